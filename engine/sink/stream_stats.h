// What the command stream did, counted: the "stream" object of a sync report.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ferry {

// Counts per name as a JSON object, each name printable (a command name in an AOF is any bytes).
nlohmann::json printable_counts(const std::map<std::string, uint64_t>& counts);

struct StreamStats {
  uint64_t commands = 0;   // applied to the target
  uint64_t skipped = 0;    // not applied: other DBs, PING, REPLCONF, heartbeat
  uint64_t transactions = 0;
  uint64_t errors = 0;     // the target answered an error
  // A script replicated verbatim (sources before 7.0) that errored on the target: it ran as the
  // source ran it (a script that errors after writing is replicated as it is), not a failed write.
  uint64_t script_errors = 0;
  uint64_t unapplied = 0;  // could not be mirrored (e.g. MOVE from an unselected DB): a divergence
  uint64_t filtered = 0;   // dropped: every key they write is excluded by --include/--exclude
  uint64_t reduced = 0;    // applied to their selected keys only (DEL/MSET ... naming excluded keys too)
  uint64_t publish_dropped = 0;  // PUBLISH left out (--no-publish)
  // A cluster target: commands (DEL, MSET ...) and transactions (--cross-slot split) whose keys are
  // in several slots, applied as one command or transaction per slot.
  uint64_t split = 0;
  // A cluster source: keys a slot migration moved to this shard (RESTORE-ASKING), applied after
  // the old owner's stream reached the move (sink/slot_moves.h).
  uint64_t moved_keys = 0;
  uint64_t oom_refused = 0;  // of the errors, the target's OOM (out of memory) refusals
  uint64_t transformed_dropped = 0;  // commands the transform dropped (ferry.drop())
  uint64_t transformed_added = 0;    // commands the transform returned beside the first of one
  std::map<std::string, uint64_t> per_command;
  std::vector<std::string> unconfirmed_scripts;  // "EVALSHA <sha> keys: a b" (first few)
  uint64_t unconfirmed_script_count = 0;
  std::vector<std::string> notes;                // first few errors and unapplied commands
  // (source DB, printable key) of keys written by unconfirmed scripts and of commands the target
  // refused with OOM, the first kMaxKeys each: ferry verify explains divergences with them.
  std::vector<std::pair<int, std::string>> unconfirmed_script_keys, oom_rejected;
  static constexpr size_t kMaxKeys = 10000;

  void note(std::string text) {
    if (notes.size() < 20) notes.push_back(std::move(text));
  }
  // Adds another shard's counts.
  void merge(const StreamStats& other);
  nlohmann::json to_json() const;
};

}  // namespace ferry
