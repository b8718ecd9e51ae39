// The one entry that runs a migration task: the CLI, the scenario runner (through the binary),
// bench and the version matrix all come here with a TaskConfig. It runs the precheck, then the
// mode's pipeline:
//
//   scan      ScanReader (SCAN, DUMP/GET + PEXPIRETIME) ----------------> KeySink ----------> Target
//   rdb       FileSource -> RdbParser ----------------------------------> KeySink ----------> Target
//   aof       FileSource -> RdbParser (a base/preamble) ------------------> KeySink ----------> Target
//             ... then FileSource -> AofCommandStream -> CommandTranslator -> CommandSink ---> Target
//   snapshot  ReplicaSync: ReplicaLink -> RdbParser --------------------> KeySink ----------> Target
//   sync      ... then ReplicaLink -> CommandReader -> CommandTranslator -> CommandSink ----> Target
//
// and writes the JSON report (--report). Every connection comes from one Dialer. Every part reports
// its progress to the task monitor (task_monitor.h): the progress line, the metrics endpoint, the
// periodic log line and the alerts.
#pragma once

#include "repl/replica_sync.h"
#include "task/aof_import.h"
#include "task/shard_runs.h"
#include "task/migration_report.h"
#include "task/progress.h"
#include "task/task_config.h"

#include <atomic>
#include <optional>
#include <string>
#include <vector>

namespace ferry {

struct TaskResult {
  std::string mode;
  MigrationReport report;                 // scan and rdb (snapshot and sync: sync->report)
  std::optional<repl::SyncResult> sync;   // snapshot and sync
  std::optional<AofImportResult> aof;     // aof: the files and the commands applied
  std::vector<ShardResult> shards;        // a cluster source: each shard's own (the above adds them up)
  std::vector<std::string> precheck_warnings;
  int exit_code = 0;                      // the README's table
  std::string failure;                    // why it did not finish (empty: it did)
  bool ran = false;                       // false: the precheck stopped it before a byte moved

  const MigrationReport& migration() const { return sync ? sync->report : report; }
  // The command stream's counts (sync, aof), or null.
  const StreamStats* stream() const { return sync ? &sync->stream : aof ? &aof->stream : nullptr; }
  nlohmann::json to_json() const;
  // The summary printed at the end: counts, the stream's counts and offsets, notes.
  std::string summary_text() const;
};

struct TaskHooks {
  const std::atomic<bool>* stop = nullptr;  // SIGINT/SIGTERM: a sync stops cleanly
  Progress* progress = nullptr;             // the progress line on a terminal (none: silent)
};

// Runs the task. Throws FerryError for what stops it before it starts (usage 3, connection 4,
// unreadable input 5); everything after is in the result and its exit code.
TaskResult run_task(const TaskConfig& config, const TaskHooks& hooks = {});

// The log as the task's [output] asks (console level, log file).
void apply_logging(const TaskConfig& config);

}  // namespace ferry
