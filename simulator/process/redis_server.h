// Starts a real redis-server on a free loopback port for tests, the demo and the simulator, and
// stops it by its own PID. The child gets PR_SET_PDEATHSIG(SIGKILL), so it dies with ferry even if
// ferry crashes: no server outlives the process that started it.
#pragma once

#include "process/tls_files.h"
#include "redis/endpoint.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ferry {
class Connection;
}

namespace ferry::sim {

// A TLS-only server (--port 0, --tls-port): its certificate, the CA it trusts (clients, and its
// master when it is a replica: tls-replication and tls-cluster are on), whether clients must show a
// certificate, and what endpoint() gives a client.
struct ServerTls {
  std::string ca;                   // tls-ca-cert-file
  CertFiles cert;                   // tls-cert-file, tls-key-file
  std::string auth_clients = "no";  // tls-auth-clients: no, yes, optional
  CertFiles client;                 // the client certificate endpoint() carries (may be empty)
  std::shared_ptr<const void> files_owner;  // keeps temporary certificate files while the server lives
};
// The usual one: the server certificate of `files`, and its client certificate for clients.
ServerTls server_tls(const TlsFiles& files, std::string auth_clients = "no");

struct RedisServerOptions {
  // The binary: FERRY_REDIS_SERVER if set, else "redis-server" from PATH.
  std::string binary;
  // Prefix for a binary that must run through another program (e.g. an unpacked dynamic loader).
  std::vector<std::string> launcher;
  bool enable_debug = true;                // --enable-debug-command yes (for DEBUG DIGEST)
  std::optional<std::string> requirepass;  // never logged
  std::vector<std::string> acl_users;      // e.g. "alice on >secret ~* &* +@all"
  std::optional<std::string> maxmemory;    // e.g. "64mb"
  std::string maxmemory_policy;            // e.g. "noeviction"
  int databases = 16;
  int port = 0;  // 0: a free loopback port; else this one (e.g. to restart a server in place)
  // Raw arguments appended as they are, e.g. {"--rename-command", "PSYNC", ""}.
  std::vector<std::string> extra_args;
  // An RDB file to load at start: copied into the server's directory as dump.rdb.
  std::string rdb_file;
  // Files or directories copied into the server's directory before it starts: (name there, path),
  // e.g. {"appendonlydir", "/tmp/x/appendonlydir"} for a server that loads an AOF.
  std::vector<std::pair<std::string, std::string>> files;
  std::optional<ServerTls> tls;  // set: TLS only, on port()
  // Any other directive: {"list-max-listpack-size", "4"}, {"repl-backlog-size", "1mb"} ...
  std::vector<std::pair<std::string, std::string>> config;
};

class RedisServer {
 public:
  // Starts the server and waits until it answers PING (10 s at most). Throws std::runtime_error
  // with the tail of the server's log when it does not come up.
  explicit RedisServer(RedisServerOptions options = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  int pid() const { return pid_; }
  // From `--version`, e.g. 60016 for 6.0.16 (Valkey reports its own version); 0 if unknown.
  int version() const { return version_; }
  bool running() const;
  // redis://127.0.0.1:PORT (rediss:// for TLS), with credentials if given.
  std::string uri(const std::string& user = {}, const std::string& password = {}) const;
  // An endpoint for Connection::open, authenticated with requirepass when set, with the CA and
  // client certificate of a TLS server.
  Endpoint endpoint(const std::string& role = "server") const;
  // The command-line flags that give a TLS server's CA and client certificate to ferry as `role`
  // ("--target-tls-ca", FILE, ...); none for a plain server.
  std::vector<std::string> tls_flags(const std::string& role) const;
  // A TLS server's files; nullptr for a plain one.
  const ServerTls* tls() const { return options_.tls ? &*options_.tls : nullptr; }
  const std::string& dir() const { return dir_; }
  std::string log_path() const { return dir_ + "/server.log"; }
  std::string log_tail(size_t bytes = 2000) const;

  // Kills the server (SIGKILL, then waits for it). Idempotent.
  void stop();

 private:
  bool start_once(int port);
  RedisServerOptions options_;
  std::string dir_;
  int port_ = 0;
  int pid_ = -1;
  int version_ = 0;
  struct Child;
  std::unique_ptr<Child> child_;
};

// A server writing its AOF (appendonly yes), for the tests, scenarios and bench that make AOFs:
// waits until no rewrite is running or scheduled and the AOF is on (after BGREWRITEAOF, or CONFIG
// SET appendonly yes, which rewrites too): the base then holds the dataset. Throws
// std::runtime_error after `seconds`.
void wait_aof_rewritten(Connection& server, double seconds = 60);
// BGREWRITEAOF, waited for.
void rewrite_aof(Connection& server, double seconds = 60);
// The server stops appending to its AOF by itself (active expiry paused: no DELs arrive) and what it
// wrote is in its files: a copy taken now is whole. `paused` false: expiry runs again.
void pause_aof_appends(Connection& server, bool paused = true);

// What RedisServer::endpoint() gives for a server started with `options` on `port`.
Endpoint server_endpoint(const RedisServerOptions& options, int port, const std::string& role = "server");

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_loopback_port();

}  // namespace ferry::sim
