// Applies the source's command stream to the target. Commands pass through unchanged unless they
// need care: SELECT (the stream's DB is tracked; only selected DBs are applied), MULTI/EXEC (one
// transaction on the target), FLUSHALL/FLUSHDB (selected DBs only, or a stop with --block-flush),
// SWAPDB/MOVE/COPY across selected and unselected DBs, relative expiries from sources older than 7.0
// (made absolute), --ttl-extend, scripts (outcome unconfirmed when the target lacks the script),
// ferry's own heartbeat key (never applied), PING and REPLCONF (not applied), --db-map (every DB
// number the target sees is mapped) and --include/--exclude (the multi-key rule below).
//
// Key filters, one rule: a command is applied when every key it names is selected, and dropped
// (counted as filtered) when none of the keys it writes is. When it mixes selected and excluded
// keys, commands that act on each key alone keep only their selected keys (DEL, UNLINK, MSET,
// MSETNX, TOUCH, PFCOUNT); a key moved out of the selection is removed (RENAME/RENAMENX -> DEL,
// SMOVE -> SREM, RPOPLPUSH/LMOVE -> RPOP/LPOP); any other mix (a selected key computed from an
// excluded one: SUNIONSTORE, COPY, RENAME into the selection, a script) is not applied and counted
// as unapplied, a divergence named in the notes. Inside MULTI/EXEC each command follows the rule
// and what is left stays one transaction.
#pragma once

#include "redis/connection.h"
#include "task/key_selection.h"
#include "task/migration_report.h"

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ferry::repl {

struct ApplierOptions {
  std::vector<int> dbs;            // empty: every DB
  DbMap db_map;                    // source DB -> target DB
  KeyFilter filter;                // --include / --exclude
  long long ttl_extend_ms = 0;
  bool block_flush = false;        // FLUSHALL/FLUSHDB stop the task instead of being applied
  bool relative_expiries = false;  // the source is older than 7.0: EXPIRE & co. are relative
  std::string heartbeat_prefix = "ferry:heartbeat:";
  PipelineLimits pipeline;
};

struct ApplierStats {
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
  std::map<std::string, uint64_t> per_command;
  std::vector<std::string> unconfirmed_scripts;  // "EVALSHA <sha> keys: a b" (first few)
  uint64_t unconfirmed_script_count = 0;
  std::vector<std::string> notes;                // first few errors and unapplied commands
  // (source DB, printable key) of keys written by unconfirmed scripts and of commands the target
  // refused with OOM, the first kMaxKeys each: ferry verify explains divergences with them.
  std::vector<std::pair<int, std::string>> unconfirmed_script_keys, oom_rejected;
  static constexpr size_t kMaxKeys = 10000;
  nlohmann::json to_json() const;
};

class StreamApplier {
 public:
  StreamApplier(Connection& target, ApplierOptions options);
  // After the target connection was replaced: replies of the old one are gone with it; what was
  // sent is of unknown fate (the caller resyncs).
  void reset_target(Connection& target);

  // Applies one command of the stream; `end_offset` is the stream offset after it.
  // Throws FerryError(Failed) for what must stop the task (--block-flush, OOM on the target ...).
  void apply(std::vector<std::string>& args, long long end_offset);
  // Sends what is queued and reads every reply. Returns the offset the target now holds: the
  // end of the last command outside an open MULTI.
  long long flush();
  // Sends what is queued to the target without waiting for its replies (the stream went quiet:
  // what arrived should not wait in a buffer for more).
  void push() { pipe_->push(); }
  long long applied_offset() const { return applied_offset_; }
  // Drops a MULTI whose EXEC never came (the link broke inside it).
  void discard_open_transaction() {
    in_multi_ = false;
    multi_.clear();
  }
  void set_start_offset(long long offset) {
    applied_offset_ = pending_offset_ = offset;
    rejected_restores_.clear();
  }
  // A command of the stream that is no business of the target (REPLCONF GETACK): the offset moves.
  void skip_command(long long end_offset) {
    if (!in_multi_) pending_offset_ = end_offset;
  }
  int stream_db() const { return stream_db_; }
  void set_stream_db(int db) { stream_db_ = db; }
  // After someone else selected a DB on the target connection (a full resync).
  void note_target_db(int db) { target_db_ = db; }
  const ApplierStats& stats() const { return stats_; }
  // Called with the timestamp carried by a heartbeat as it comes back through the stream.
  std::optional<long long> last_heartbeat_ms() const { return last_heartbeat_ms_; }

 private:
  bool selected(int db) const { return dbs_.empty() || dbs_.count(db); }
  void send(std::vector<std::string> args);
  void select_target(int db);
  void rewrite_expiry(std::vector<std::string>& args);
  // The key-filter rule (see above): false when the command is not applied; may rewrite `args`.
  bool filter_keys(const std::string& name, std::vector<std::string>& args);
  int target_db(int source_db) const { return options_.db_map.target(source_db); }
  // What one command of the stream means for the target: emit(db, command) for each command to
  // send there (none, one, or several). Used alone and for each command of a MULTI/EXEC.
  using Emit = std::function<void(int db, std::vector<std::string> command)>;
  void translate(std::vector<std::string>& args, const Emit& emit);
  void send_exec(int db_inside);
  void rewrite_rejected_restores();
  void note(std::string text);
  void restore_natively(int db, const std::vector<std::string>& args);

  Connection* target_;
  ApplierOptions options_;
  std::set<int> dbs_;
  std::unique_ptr<Pipeline> pipe_;
  ApplierStats stats_;
  int stream_db_ = 0;
  int target_db_ = -1;
  bool in_multi_ = false;
  std::vector<std::vector<std::string>> multi_;
  long long applied_offset_ = 0;  // held by the target (replies read)
  long long pending_offset_ = 0;  // sent, replies pending
  std::optional<std::string> fatal_;
  std::optional<long long> last_heartbeat_ms_;
  // RESTOREs whose payload the target refused (a newer RDB version): written with commands.
  std::vector<std::pair<int, std::vector<std::string>>> rejected_restores_;
};

}  // namespace ferry::repl
