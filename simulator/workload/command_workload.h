// Writes every command ferry's replication supports, from one seed: each round touches strings,
// lists (incl. blocking pops), hashes, sets, sorted sets, streams and consumer groups, HyperLogLogs,
// bitmaps, geo, expiries of every form, MULTI/EXEC, scripts, RESTORE, MOVE and several DBs.
// Used by the replication tests and (later) the simulator's load generator.
#pragma once

#include "redis/connection.h"

#include <cstdint>
#include <map>
#include <string>

namespace ferry::sim {

struct CommandWorkloadStats {
  uint64_t commands = 0;
  std::map<std::string, uint64_t> per_command;
};

class CommandWorkload {
 public:
  // dbs: the workload writes in DB 0 and DB `other_db`.
  CommandWorkload(Connection& conn, uint64_t seed, int other_db = 1);
  // One round: every supported command at least once. Errors are failures of the test (thrown).
  void round();
  const CommandWorkloadStats& stats() const { return stats_; }

 private:
  Reply run(Args args);
  std::string key(const std::string& kind);
  Connection& conn_;
  uint64_t seed_;
  uint64_t state_;
  int other_db_;
  int round_ = 0;
  std::string script_sha_;
  CommandWorkloadStats stats_;
};

}  // namespace ferry::sim
