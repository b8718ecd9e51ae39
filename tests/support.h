// Shared by the tests: running the ferry binary, and asserting that two servers hold the same data.
#pragma once

#include "process/redis_server.h"
#include "redis/connection.h"
#include "verify/dataset_comparison.h"
#include "workload/load_generator.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ferry::test {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  double seconds = 0;
};

// Runs build/ferry with the arguments (and extra environment), capturing its output.
RunResult run_ferry(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {});

// build/ferry running in the background (e.g. --mode sync), its output going to files.
class BackgroundFerry {
 public:
  explicit BackgroundFerry(const std::vector<std::string>& args);
  ~BackgroundFerry();
  // Sends SIGTERM (a clean stop) and waits for the exit.
  RunResult stop();
  // Waits for it to exit by itself (at most `seconds`); kills it and fails the test past that.
  RunResult wait(double seconds);
  bool running();
  int pid() const;

 private:
  RunResult collect();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A connection to a fixture server (authenticated with its requirepass).
std::unique_ptr<Connection> connect(const sim::RedisServer& server, const std::string& role = "server");

// Asserts key by key: value digest, absolute expiry, stream group state; and equal DEBUG DIGEST
// unless server_digest is false (Redis 7.0 and 7.2+/Valkey digest sorted-set scores differently).
void require_identical(Connection& source, Connection& target, const ComparisonOptions& options = {},
                       bool server_digest = true);

// The same where either side is a cluster (or one server): key by key on each key's owner.
void require_identical(ServerGroup& source, ServerGroup& target, const ComparisonOptions& options = {});
// A ServerGroup of a fixture server: every master when it is a cluster node.
ServerGroup group_of(const sim::RedisServer& server);

// The write load of every supported command from one seed, in a thread, sent through a target's
// routing: one server, or a cluster node (each step on its slot's master, redirections followed
// through failovers and reshards). Keys carry 64 hash tags, so each step stays in one slot.
class BackgroundLoad {
 public:
  BackgroundLoad(const sim::RedisServer& server, uint64_t seed, double rate);
  ~BackgroundLoad();
  // Stops it and checks it ran without an exception; returns what it sent.
  sim::LoadStats stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

long long now_ms();

// Compares until the target holds what the source holds (key by key and by DEBUG DIGEST), at most
// `seconds`; returns the last comparison.
ComparisonResult wait_until_equal(Connection& source, Connection& target, const ComparisonOptions& options, double seconds);

// Waits until `replica` holds what `source` holds, compared as replication can reproduce it (not a
// stream group's entries-read), at most `seconds`, and CHECKs it with the difference in the message.
void check_converges(Connection& source, Connection& replica, double seconds);

// A file's bytes ("" when it cannot be read).
std::string read_file(const std::string& path);

// A JSON file (a --report), parsed.
nlohmann::json read_json(const std::string& path);

// Waits until a replica (ferry) is online on `source`, i.e. streaming after its snapshot: `replicas`
// of them when the source has native replicas too.
void wait_for_replica(Connection& source, double seconds, int replicas = 1);

// A server of another version fetched by tools/fetch-servers ("redis-6.0", "redis-8.0",
// "valkey-8.1"), or nullopt when it is not there (the test then skips with a message).
std::optional<std::string> other_server(const std::string& name);

}  // namespace ferry::test
