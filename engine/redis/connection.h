// A request/reply connection to one Redis server: commands written by ferry's RESP encoder on its
// Socket, replies parsed by hiredis's reader; a read timeout; and a bounded pipeline. Connections
// are made by the Dialer (redis/dialer.h), which logs in; the replication link starts as one of
// these and then takes its socket over.
#pragma once

#include "core/error.h"
#include "redis/endpoint.h"
#include "redis/reply.h"
#include "redis/socket.h"
#include "resp/command_reader.h"

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

struct redisReader;

namespace ferry {

struct Timeouts {
  std::chrono::milliseconds connect{5000};
  std::chrono::milliseconds read{60000};
};

// The link to a server broke or timed out while a job was running.
class LinkError : public FerryError {
 public:
  // role: the endpoint's role ("source", "target"): which side to reconnect.
  LinkError(const std::string& role, const std::string& message, TlsProblem tls = TlsProblem::None)
      : FerryError(ExitCode::Connection, message), role_(role), tls_(tls) {}
  const std::string& role() const { return role_; }
  // What TLS said, when the link failed in TLS (a server refusing ferry's certificate says so only
  // at the first reply).
  TlsProblem tls_problem() const { return tls_; }

 private:
  std::string role_;
  TlsProblem tls_;
};

// The server's bytes are not RESP: it is not a Redis server (an HTTP port, a TLS port spoken to in
// plain text ...).
class ProtocolError : public LinkError {
 public:
  using LinkError::LinkError;
};

// A command failed in a way the job cannot go on from (OOM, NOPERM, READONLY ...). Carries the kind.
class CommandError : public FerryError {
 public:
  CommandError(RedisErrorKind kind, const std::string& message)
      : FerryError(ExitCode::Failed, message), kind_(kind) {}
  RedisErrorKind kind() const { return kind_; }

 private:
  RedisErrorKind kind_;
};

using Args = std::vector<std::string>;
using resp::encode_command;

class Connection {
 public:
  // Dialer(timeouts).connect(endpoint): connects and logs in (see redis/dialer.h). Fails fast with
  // FerryError(Connection): refused, timed out, wrong password, password required, not Redis.
  static std::unique_ptr<Connection> open(const Endpoint& endpoint, const Timeouts& timeouts = {});
  // An open socket to the endpoint, not logged in yet (the Dialer's part).
  Connection(const Endpoint& endpoint, std::unique_ptr<Socket> socket, std::chrono::milliseconds read_timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one command and waits for its reply; error replies are returned, not thrown.
  Reply command(const Args& args);
  // Like command(), but an error reply throws CommandError naming the server and command.
  Reply checked(const Args& args);

  // Pipelining primitives: queue a command, read the oldest outstanding reply.
  void append(const Args& args);
  Reply read_reply();
  // Writes what append() queued to the socket now, without waiting for replies.
  void flush_output();
  // Bytes append() queued that are not written yet.
  size_t unsent_bytes() const;

  // SELECT db, skipped when already selected.
  void select(int db);
  int selected_db() const { return db_; }
  // For callers that sent SELECT through a Pipeline themselves.
  void note_selected(int db) { db_ = db; }

  // Names of the loaded modules (MODULE LIST), lower case; empty when MODULE LIST is not allowed.
  std::set<std::string> module_names();

  // INFO <section> as key -> value.
  std::map<std::string, std::string> info(const std::string& section);
  // Major*10000 + minor*100 + patch of redis_version (e.g. 70015); cached.
  int version();
  std::string version_string();

  const Endpoint& endpoint() const { return endpoint_; }
  std::string describe() const { return endpoint_.describe(); }

  // How long a reply may take (the Dialer shortens it while logging in).
  void set_read_timeout(std::chrono::milliseconds timeout) { read_timeout_ = timeout; }
  // After logging in with a user:password split: the credentials that worked.
  void set_credentials(std::string user, std::string password);
  // Hands the socket over (the replication link), with the bytes that arrived after the last reply
  // read (none from a real server, which sends nothing unasked before PSYNC).
  std::unique_ptr<Socket> release_socket(std::string& unread);

 private:
  [[noreturn]] void fail_io(const char* doing, const std::string& why, TlsProblem tls = TlsProblem::None);
  std::unique_ptr<Socket> socket_;
  redisReader* reader_;
  std::string out_;  // commands appended, not yet written
  std::chrono::milliseconds read_timeout_;
  Endpoint endpoint_;
  int db_ = 0;
  int version_ = -1;
  std::string version_string_;
};

// Limits on what is sent but not yet answered.
struct PipelineLimits {
  size_t max_commands = 8192;
  size_t max_bytes = 8 << 20;
};

// Sends commands without waiting, reading replies only to stay within the limits; each reply goes
// to the handler given with its command, in order.
//
// A cluster's node may answer "not here" (MOVED, ASK, TRYAGAIN, CLUSTERDOWN). With a redirect set,
// the pipeline keeps each command until its reply is read, and a reply that `is_redirect` picks is
// handed with its command to the redirect instead of the handler. A transaction is one unit: its
// replies are held until EXEC is answered, and when a command in it was redirected (EXEC then
// answers EXECABORT) the whole MULTI ... EXEC goes to the redirect, with the first such reply.
class Pipeline {
 public:
  using Handler = std::function<void(Reply&&)>;
  struct Sent {
    Args args;
    Handler handler;
  };
  using Redirect = std::function<void(std::vector<Sent>&& commands, Reply&& reply)>;

  Pipeline(Connection& conn, PipelineLimits limits = {}) : conn_(conn), limits_(limits) {}
  ~Pipeline();

  void send(const Args& args, Handler on_reply = {});
  // Sends what is queued to the server now; the replies stay outstanding.
  void push() { conn_.flush_output(); }
  // Reads every outstanding reply.
  void drain();
  // Reads every outstanding reply without handing it to its handler (nor redirecting it).
  void discard();
  // Forgets every outstanding reply unread (the connection is dead): handlers are not called.
  void abandon() {
    pending_.clear();
    held_.clear();
    bytes_in_flight_ = 0;
    in_multi_ = false;
  }
  size_t in_flight() const { return pending_.size(); }
  Connection& connection() { return conn_; }

  void set_redirect(std::function<bool(const Reply&)> is_redirect, Redirect redirect) {
    is_redirect_ = std::move(is_redirect);
    redirect_ = std::move(redirect);
  }

 private:
  void read_one();
  void hand_over(Sent&& sent, Reply&& reply);
  Connection& conn_;
  PipelineLimits limits_;
  struct Pending {
    size_t bytes;
    Handler handler;
    Args args;            // kept only with a redirect set
    bool in_transaction;  // MULTI, what it queues, EXEC/DISCARD
  };
  std::deque<Pending> pending_;
  size_t bytes_in_flight_ = 0;
  bool in_multi_ = false;  // a MULTI was sent and its EXEC not yet
  std::function<bool(const Reply&)> is_redirect_;
  Redirect redirect_;
  // A transaction's replies read so far (with a redirect set), handed over when EXEC's arrives.
  std::vector<std::pair<Sent, Reply>> held_;
};

}  // namespace ferry
