// Where writes go. Both sinks (sink/key_sink.h, sink/command_sink.h) ask the target for the
// pipeline that writes a (db, key) and never select DBs or pick connections themselves: a
// standalone server hands out its one pipeline with the DB selected; a cluster
// (target/cluster_target.h) hands out its slot's master's pipeline and follows redirections.
#pragma once

#include "redis/dialer.h"
#include "task/migration_report.h"

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

// What the writers need to know of the target to pick their commands.
struct TargetFacts {
  int version = 0;             // e.g. 70015 (Connection::version)
  std::string version_string;  // "7.0.15"
  int rdb_version = 0;         // the newest RDB version its RESTORE reads
  std::set<std::string> modules;  // MODULE LIST names, lower case
  bool cluster = false;           // a Redis Cluster: DB 0 only, keys of one command in one slot

  bool takes_pxat() const { return version >= 60200; }          // SET ... PXAT, LMOVE, CREATECONSUMER
  bool takes_field_expiry() const { return version >= 70400; }  // HPEXPIREAT
  bool takes_pexpiretime() const { return version >= 70000; }
  // Whether a module that writes values of `module_type` is loaded (a type name such as "ReJSON-RL"
  // starts with, or is, its module's name).
  bool has_module_for_type(std::string_view module_type) const;
  // A Redis 6 target exits on a RESTORE of a module value it lacks: such values are never sent.
  bool refuses_module_safely(std::string_view module_type) const {
    return version >= 70000 || has_module_for_type(module_type);
  }
  // Reads them off a connection (INFO server, MODULE LIST).
  static TargetFacts of(Connection& conn);
};

class Target {
 public:
  virtual ~Target() = default;

  // The pipeline that writes `key` in target DB `db`. When its connection has another DB selected,
  // SELECT is queued on it first, so what was queued before is applied where it was meant to be.
  virtual Pipeline& pipeline_for(int db, std::string_view key) = 0;
  // Every master's pipeline, each with `db` selected: commands without a key (FLUSHDB, FLUSHALL,
  // SCRIPT, FUNCTION). Whatever was sent before is answered first.
  virtual std::vector<Pipeline*> every_pipeline(int db) = 0;
  // A transaction that carried a SELECT was refused (EXECABORT): which DB `pipe`'s connection has
  // selected is no longer known, and the next pipeline_for selects again.
  virtual void forget_selected_db(Pipeline& pipe) = 0;

  // Sends what is queued on every pipeline, without waiting for replies.
  virtual void push() = 0;
  // Reads every outstanding reply on every pipeline.
  virtual void drain() = 0;
  // Reads them without handing them to their handlers: after a failure, when the handlers' owners
  // are going away.
  virtual void discard() = 0;
  // A connection for request/reply commands (INFO, SCAN, DBSIZE), every reply read first.
  virtual Connection& request_connection() = 0;
  // Every master's connection for request/reply commands (a cluster's keys are spread over them),
  // every reply read first.
  virtual std::vector<Connection*> masters() = 0;

  // The connection broke: connects again (one attempt; FerryError(Connection) when it fails).
  // Replies in flight on the old connection are dropped unread: their fate is unknown.
  virtual void reconnect(const Dialer& dialer) = 0;

  virtual const TargetFacts& facts() const = 0;
  virtual std::string describe() const = 0;
  // The server that holds `key`, for messages ("target shard 10.0.0.3:6379 (slots 5461-10922)").
  virtual std::string describe_for(std::string_view) { return describe(); }
  // What stays the same while the target keeps its data (its run_id; a cluster's node ids): a
  // change since the state file was written means the target restarted.
  virtual std::string identity() = 0;
  // A cluster target adds the redirections it followed (MigrationReport::routing).
  virtual void count_routing(MigrationReport&) const {}
};

// Connects to the target `endpoint` names: one server, or, when INFO says cluster_enabled:1, every
// master of its cluster. `retry`: how long a cluster's TRYAGAIN and CLUSTERDOWN are waited out. `dialer`
// must outlive the target (a cluster target dials the nodes it is redirected to).
std::unique_ptr<Target> open_target(const Dialer& dialer, const Endpoint& endpoint, PipelineLimits limits,
                                    std::chrono::seconds retry = std::chrono::seconds(60));

// One server: one connection, one pipeline.
class StandaloneTarget : public Target {
 public:
  StandaloneTarget(std::unique_ptr<Connection> conn, PipelineLimits limits);
  ~StandaloneTarget() override;

  Pipeline& pipeline_for(int db, std::string_view key) override;
  std::vector<Pipeline*> every_pipeline(int db) override { return {&pipeline_for(db, {})}; }
  void forget_selected_db(Pipeline&) override { conn_->note_selected(-1); }
  void push() override { pipe_->push(); }
  void drain() override { pipe_->drain(); }
  void discard() override { pipe_->discard(); }
  Connection& request_connection() override;
  std::vector<Connection*> masters() override { return {&request_connection()}; }
  void reconnect(const Dialer& dialer) override;
  const TargetFacts& facts() const override { return facts_; }
  std::string describe() const override { return conn_->describe(); }
  std::string identity() override { return request_connection().info("server")["run_id"]; }

 private:
  PipelineLimits limits_;
  std::unique_ptr<Connection> conn_;
  std::unique_ptr<Pipeline> pipe_;
  TargetFacts facts_;
};

}  // namespace ferry
