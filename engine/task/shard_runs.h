// A Redis Cluster as the source: the task's mode run once per shard, each shard on its own
// thread with its own source and target connections, all through the one dialer and the same
// task configuration (run_task.h decides when). scan: one ScanReader per shard, reading its
// master or a replica (--source-read). snapshot/sync: one ReplicaSync per shard with its own
// replid and offset, an entry each in the one state file, the shards' streams paired where a slot
// moves (sink/slot_moves.h). A shard that fails (or a SIGTERM) stops the others; the counts add
// up into one report, and each shard's own is kept beside it. Each shard reports its progress to its
// own part of the task monitor.
#pragma once

#include "cluster/source_shards.h"
#include "repl/replica_sync.h"
#include "task/migration_report.h"
#include "task/task_monitor.h"
#include "task/task_config.h"

#include <atomic>
#include <string>
#include <vector>

namespace ferry {

struct ShardResult {
  std::string shard;  // SourceShard::describe()
  MigrationReport report;                // scan
  std::optional<repl::SyncResult> sync;  // snapshot, sync
  nlohmann::json to_json() const;
};

struct ShardedRun {
  std::vector<ShardResult> shards;
  MigrationReport report;                // scan: the shards' counts added up
  std::optional<repl::SyncResult> sync;  // snapshot/sync: likewise, offsets per shard only
};

// `base`: the options one ReplicaSync would get (sync_options of run_task.cpp). `monitor` has a part
// per shard, in the order of `shards`.
ShardedRun run_sharded_sync(const TaskConfig& config, const Dialer& dialer, const std::vector<SourceShard>& shards,
                            const repl::SyncOptions& base, TaskMonitor& monitor);
ShardedRun run_sharded_scan(const TaskConfig& config, const Dialer& dialer, const std::vector<SourceShard>& shards,
                            const std::atomic<bool>* stop, TaskMonitor& monitor);

}  // namespace ferry
