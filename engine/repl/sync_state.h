// The state file of a sync task (--state FILE): where the target stands in the source's stream, so
// a restarted ferry resumes by partial resync. It is written only at points where the target holds
// exactly that prefix of the stream (never inside MULTI/EXEC, never before the snapshot is wholly
// applied), and marked dirty while a batch is in flight: a dirty or mid-snapshot state, or a target
// whose run_id changed, means a full resync instead of trusting the offset.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <optional>
#include <string>

namespace ferry::repl {

struct SyncState {
  std::string replid;
  long long offset = 0;             // the target holds the stream up to here
  int stream_db = 0;                // the stream's selected DB at that offset
  bool dirty = false;               // writes were in flight: the target may hold more than `offset`
  bool snapshot_in_progress = false;  // the target holds part of a snapshot (ferry's own writes)
  std::string target_run_id;        // a restart of the target may have lost applied writes
  std::string conflict_mode;        // "block" or "replace" as the task began
  std::vector<std::string> nodes;   // a cluster source's shard: its nodes' ids (empty: one server)
};

// Reads the state; nullopt when the file does not exist. A malformed file is a usage error (3).
std::optional<SyncState> load_state(const std::string& path);
// Writes it atomically (a temporary file renamed over the old one).
void save_state(const std::string& path, const SyncState& state);

// The state file of a task: one state (a standalone source), or one entry per shard of a cluster
// source, {"shards": [...]}, each entry found again by any of its nodes' ids (a failover keeps the
// set). Shared by the shards' syncs, which run on their own threads: every call is locked, and
// each save rewrites the whole file atomically.
class StateFile {
 public:
  explicit StateFile(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }
  // The standalone state (`nodes` empty) or the entry of the shard that has one of `nodes`.
  // FerryError(Usage) when the file is of the other kind.
  std::optional<SyncState> load(const std::vector<std::string>& nodes);
  void save(const SyncState& state);

 private:
  void read_once();
  std::mutex mu_;
  std::string path_;
  bool read_ = false, sharded_ = false;
  std::vector<SyncState> entries_;
};

}  // namespace ferry::repl
