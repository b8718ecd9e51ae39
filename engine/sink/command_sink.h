// The command sink: applies the source's command stream (the replication stream, a spool, later an
// AOF file) to the target. The CommandTranslator decides what each command becomes; this class
// writes it: through the target's pipeline for its (db, key), MULTI/EXEC kept one transaction,
// RESTOREs through the key sink (so a refused payload is written natively, and unsupported data is
// skipped with --skip-unsupported), replies classified (an error stops the task when writing more
// is pointless), and the offset the target holds tracked: the end of the last command outside an
// open MULTI whose reply was read.
#pragma once

#include "sink/command_translator.h"
#include "sink/key_sink.h"
#include "sink/slot_moves.h"
#include "sink/stream_stats.h"
#include "target/target.h"
#include "task/migration_report.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ferry {

class CommandSink {
 public:
  // `report`: where the stream's RESTOREs are counted (copied, failed, unsupported); `stats`: the
  // stream's own counts. Both outlive the sink.
  CommandSink(Target& target, StreamOptions options, MigrationReport& report, StreamStats& stats,
              std::function<long long()> now_ms = nullptr);

  // Applies one command of the stream; `end_offset` is the stream offset after it. Throws
  // FerryError(Failed) for what must stop the task (--block-flush, OOM on the target ...).
  void apply(std::vector<std::string>& args, long long end_offset);
  // Sends what is queued and reads every reply. Returns the offset the target now holds.
  long long flush();
  // Sends what is queued without waiting for replies (the stream went quiet: what arrived should not
  // wait in a buffer for more).
  void push() { target_.push(); }
  long long applied_offset() const { return applied_offset_; }
  // Drops a MULTI whose EXEC never came (the link broke inside it).
  void discard_open_transaction();
  void set_start_offset(long long offset) { applied_offset_ = pending_offset_ = offset; }
  // A command of the stream that is no business of the target (REPLCONF GETACK): the offset moves.
  void skip_command(long long end_offset) {
    if (!in_multi_) pending_offset_ = end_offset;
  }
  int stream_db() const { return translator_.stream_db(); }
  void set_stream_db(int db) { translator_.set_stream_db(db); }
  // The target's connection was replaced: what was in flight is of unknown fate (the caller resyncs).
  void target_replaced();

  // A cluster source's shard `shard`, whose stream is applied beside the other shards': a
  // RESTORE-ASKING waits for the key's old owner through `moves` (sink/slot_moves.h).
  void set_slot_moves(SlotMoves* moves, size_t shard) {
    moves_ = moves;
    shard_ = shard;
  }

  // A heartbeat seen in the stream: the source's time in it and the stream offset after it.
  struct Heartbeat {
    long long source_ms = 0;
    long long offset = 0;
  };
  std::optional<Heartbeat> take_heartbeat() { return std::exchange(heartbeat_, std::nullopt); }

 private:
  void send(int db, std::vector<std::string> args, bool in_transaction);
  void on_reply(const std::string& what, int source_db, const std::string& key, bool script, Reply&& r);
  using Body = std::vector<std::pair<int, std::vector<std::string>>>;  // (target DB, command)
  void apply_transaction(long long end_offset);
  // A translated transaction to the target: as one, or per slot of a cluster (--cross-slot).
  void dispatch_transaction(Body body, long long end_offset);
  void send_transaction(Body body);
  // `e` with where the stream stands: the command's end offset and what the target holds.
  FerryError stopped_at(const FerryError& e, long long end_offset) const;
  void restore(int db, std::vector<std::string>& args);
  // Returns once the keys' old owner, when another shard's stream owned their slot, has written
  // its stream up to the point where it gave them away (sink/slot_moves.h).
  void wait_for_moves(const std::vector<std::string>* commands, size_t count);

  Target& target_;
  StreamStats& stats_;
  CommandTranslator translator_;
  CrossSlot options_cross_slot_;
  std::unique_ptr<KeySink> restores_;
  bool in_multi_ = false;
  std::vector<std::vector<std::string>> multi_;
  long long applied_offset_ = 0;  // held by the target (replies read)
  long long pending_offset_ = 0;  // sent, replies pending
  std::optional<std::string> fatal_;
  std::optional<Heartbeat> heartbeat_;
  SlotMoves* moves_ = nullptr;
  size_t shard_ = 0;
};

}  // namespace ferry
