// What one command of the source's stream means for the target, decided without touching a server:
// translate(command) emits the commands to send (none, one or several), each with the target DB it
// goes to. Commands pass through unchanged unless they need care: SELECT (the stream's DB is
// tracked; only selected DBs are applied), FLUSHALL/FLUSHDB (selected DBs only, or a stop with
// --block-flush), SWAPDB/MOVE/COPY across selected and unselected DBs, relative expiries from
// sources older than 7.0 (made absolute), --ttl-extend, commands a target before 6.2 lacks (SET ...
// PXAT, LMOVE), scripts (outcome unconfirmed when replayed), ferry's own heartbeat key (never
// applied, its time noted), PING and REPLCONF (not applied), --db-map (every DB number the target
// sees is mapped) and --include/--exclude (the multi-key rule below).
//
// A cluster target (DB 0 only, one slot per command): DEL, UNLINK, TOUCH, EXISTS, MSET and MSETNX
// whose keys span slots become one command per slot (MSETNX is then not atomic: said in the notes);
// any other command, or a script, whose keys span slots stops the task, naming it; SWAPDB touching
// a selected DB and MOVE into one stop it too (a cluster has one DB). MULTI/EXEC across slots is
// the command sink's (--cross-slot).
//
// Key filters, one rule: a command is applied when every key it names is selected, and dropped
// (counted as filtered) when none of the keys it writes is. When it mixes selected and excluded
// keys, commands that act on each key alone keep only their selected keys (DEL, UNLINK, MSET,
// MSETNX, TOUCH, PFCOUNT); a key moved out of the selection is removed (RENAME/RENAMENX -> DEL,
// SMOVE -> SREM, RPOPLPUSH/LMOVE -> RPOP/LPOP); any other mix (a selected key computed from an
// excluded one: SUNIONSTORE, COPY, RENAME into the selection, a script) is not applied and counted
// as unapplied, a divergence named in the notes.
#pragma once

#include "sink/stream_stats.h"
#include "target/target.h"
#include "task/copy_options.h"
#include "task/key_selection.h"
#include "transform/transform.h"

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ferry {

// What a transaction (or a script) whose keys are in several slots of a cluster target becomes.
enum class CrossSlot { Stop, Split };

struct StreamOptions {
  std::vector<int> dbs;            // empty: every DB
  DbMap db_map;                    // source DB -> target DB
  KeyFilter filter;                // --include / --exclude
  long long ttl_extend_ms = 0;
  bool block_flush = false;        // FLUSHALL/FLUSHDB stop the task instead of being applied
  bool relative_expiries = false;  // the source is older than 7.0: EXPIRE & co. are relative
  bool skip_unsupported = false;   // a RESTORE whose data the target cannot hold is skipped and listed
  bool publish = true;             // false (--no-publish): PUBLISH is left out, counted
  CrossSlot cross_slot = CrossSlot::Stop;  // --cross-slot
  std::string heartbeat_prefix = "ferry:heartbeat:";
  std::shared_ptr<const TransformScript> transform;  // --transform: on_command after the selection

  // The selection and write options a stream shares with the copy (DBs, --db-map, filters,
  // --ttl-extend, --skip-unsupported); the stream's own stay at their defaults.
  static StreamOptions from(const CopyOptions& copy) {
    StreamOptions o;
    o.dbs = copy.dbs;
    o.db_map = copy.db_map;
    o.filter = copy.filter;
    o.ttl_extend_ms = copy.ttl_extend_ms;
    o.skip_unsupported = copy.skip_unsupported;
    o.transform = copy.transform;
    return o;
  }
};

class CommandTranslator {
 public:
  using Command = std::vector<std::string>;
  using Emit = std::function<void(int target_db, Command command)>;

  // `now_ms`: the clock relative expiries are made absolute with (Unix ms).
  CommandTranslator(StreamOptions options, TargetFacts facts, StreamStats& stats,
                    std::function<long long()> now_ms = nullptr);
  ~CommandTranslator();

  // Translates one command (not MULTI/EXEC: the command sink frames transactions). Throws
  // FerryError(Failed) for a flush under --block-flush.
  void translate(Command& args, const Emit& emit);

  int stream_db() const { return stream_db_; }
  void set_stream_db(int db) { stream_db_ = db; }
  // The source time carried by the last heartbeat seen, taken once.
  std::optional<long long> take_heartbeat() { return std::exchange(heartbeat_ms_, std::nullopt); }
  int target_db(int source_db) const { return options_.db_map.target(source_db); }
  const StreamOptions& options() const { return options_; }

 private:
  bool selected(int db) const { return dbs_.empty() || dbs_.count(db); }
  void rewrite_expiry(Command& args);
  void rewrite_for_old_target(const std::string& name, Command& args);
  // The key-filter rule (see above): false when the command is not applied; may rewrite `args`.
  bool filter_keys(const std::string& name, Command& args);
  void note_script(const std::string& name, const Command& args);
  // A cluster target runs a command only on keys of one slot: commands that act on each key alone
  // are emitted once per slot (true); any other command whose keys span slots stops the task.
  bool split_across_slots(const std::string& name, int db, Command& args, const Emit& emit);
  // What every applied command goes through after the selection and the transform: expiries made
  // absolute (--ttl-extend), rewrites for an old target, the counts, a cluster's slots, --db-map.
  void finish(int db, Command& args, const Emit& emit);

  StreamOptions options_;
  TargetFacts facts_;
  StreamStats& stats_;
  std::function<long long()> now_ms_;
  std::set<int> dbs_;
  int stream_db_ = 0;
  std::optional<long long> heartbeat_ms_;
  bool noted_msetnx_split_ = false;
  std::unique_ptr<Transform> transform_;
};

// "SET 'key' ... ": a command as messages name it (name, key and a little more; never whole values).
std::string describe_command(const std::vector<std::string>& args);

}  // namespace ferry
