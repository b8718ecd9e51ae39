// A scenario file (scenarios/**/*.toml): servers, dataset, write load, a timeline of faults and
// events, the migration task (the keys of a task file), validation, and what must, may and must not
// come out of it. See scenarios/README.md for every key.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ferry::sim {

struct ServerSpec {
  std::string version = "system";  // or redis-6.0, redis-8.0, valkey-8.0, valkey-8.1
  int replicas = 0;                // source only
  std::optional<std::string> maxmemory;
  std::string policy;
  int databases = 16;
  std::vector<std::pair<std::string, std::string>> config;
  std::vector<std::string> keys;  // target only: keys already there ("existing keys" cases)
  // A Redis Cluster of this many masters (0: one server), each with cluster_replicas.
  int cluster_masters = 0;
  int cluster_replicas = 0;
  // TLS only, with mutual TLS (tls-auth-clients yes): certificates made for the run, given to
  // ferry through the task file's tls-ca, tls-cert and tls-key.
  bool tls = false;
};

struct DatasetSpec {
  size_t keys = 0;               // a mixed dataset of every type (sim::fill_mixed_dataset)
  std::vector<int> dbs{0};
  double expiring = 0.2;
  bool big = false;
  size_t short_lived = 0;        // strings that expire during the migration
  long long short_ttl_ms = 1500; // ... within this many ms (spread from a tenth of it)
  size_t lists = 0;              // lists of list_length elements ("list duplicates" cases)
  size_t list_length = 100;
  bool newer_types = false;      // also data only newer sources hold (sim::fill_newer_types)
};

struct WorkloadSpec {
  double rate = 0;       // commands per second; 0 with duration 0: no workload
  double duration = 0;   // seconds
  std::map<std::string, double> mix;  // empty: the generator's default mix
  std::vector<int> dbs{0};
  size_t keyspace = 200;
  // Hash tags on the load's keys (see LoadOptions::hash_tags); unset: 64 with a cluster target
  // (every step in one slot), none otherwise. tag-per-command: a MULTI/EXEC spans slots.
  std::optional<size_t> hash_tags;
  bool tag_per_command = false;
  bool enabled() const { return duration > 0; }
};

// At `at_ms` after the workload starts: a proxy fault, or an action on the servers or ferry.
struct TimelineEvent {
  long long at_ms = 0;
  std::string fault;   // a proxy fault spec (see fault_spec.h)
  std::string action;  // heal, restart-target, restart-ferry, kill-ferry, target-maxmemory, delete, target-command,
                       // target-failover, target-reshard, target-shard-maxmemory (a cluster target),
                       // source-failover, source-reshard (a cluster source)
  std::string value;   // target-maxmemory: the new maxmemory; delete: a SCAN MATCH pattern;
                       // target-command: a command run on the target, words split on spaces;
                       // target-failover: a shard index, or "key NAME" (the shard owning NAME);
                       // target-reshard: "FROM TO SLOTS" (shard indexes); target-shard-maxmemory:
                       // "SHARD BYTES" (or "key NAME BYTES")
};

struct ValidateSpec {
  bool enabled = true;
  std::string compare = "full";
  int rounds = 3;
  double interval = 1;
  long long ttl_tolerance_ms = -1;
};

struct ExpectSpec {
  std::vector<std::string> must, may, must_not;  // divergence causes
  long long unexplained = 0;                     // at most this many
  int exit_code = 0;                             // of ferry migrate
  std::string error_contains;                    // in ferry's stderr
  // Conditions on the task report: "skipped_expired" -> ">0", "stream.errors" -> "==0", "full_resyncs" -> ">=1".
  std::map<std::string, std::string> report;
  double time_limit = 300;                       // seconds for the whole scenario
  std::vector<std::string> absent_on_target;     // SCAN MATCH patterns no target key may match
};

struct ScenarioSpec {
  std::string name, file, description;
  uint64_t seed = 1;
  bool proxy = false;  // put the fault proxy between ferry and the source (on when faults are used)
  ServerSpec source, target;
  DatasetSpec dataset;
  WorkloadSpec workload;
  std::vector<TimelineEvent> timeline;
  std::string task_toml;  // the [task] table as a task file (source, target and report are added)
  std::string mode = "sync";
  ValidateSpec validate;
  ExpectSpec expect;
};

// Throws FerryError(Usage) with FILE:LINE:COLUMN for a mistake.
ScenarioSpec load_scenario(const std::string& path);
// The same from text (`path` names it in messages).
ScenarioSpec parse_scenario(const std::string& text, const std::string& path);

// *.toml files under each path (a file is taken as it is), sorted.
std::vector<std::string> find_scenarios(const std::vector<std::string>& paths);

}  // namespace ferry::sim
