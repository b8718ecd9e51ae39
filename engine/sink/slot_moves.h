// Slots that move on a cluster source while its shards are synced, each shard's stream applied by
// its own thread. A MIGRATE writes the key on the new owner first (its stream carries
// RESTORE-ASKING), then deletes it on the old owner (a DEL in that stream, indistinguishable from
// a client's). Applied independently, the old owner's DEL, or its last writes to the key, could
// land after the new owner's RESTORE and the writes that follow it there.
//
// Writes on the new owner can come before the old owner's stream has caught up in another way
// too: a client that gets -ASK for a key the old owner no longer holds (deleted, or moved) writes
// it on the new owner, while the old owner's stream may still carry an earlier DEL of it.
//
// SlotMoves orders both. A write of shard B's stream to a key whose slot shard A (of this process)
// owns, as far as this process knows, waits: A's master is asked whether it still holds the key
// (EXISTS without ASKING: 0 or -ASK means it gave it away or never had it; -MOVED, that the slot is
// no longer A's), and once it does not, A's replication offset then is past every write A made to
// the key, the migration's DEL included; the write waits until A's sync has written its stream up
// to that offset. Once A answers -MOVED and its stream is written past that point, the slot is
// B's here too and its writes go straight through. DELs are applied as they come (a RESTORE that
// follows recreates the key). Each wait is bounded (`patience`); past it the write goes ahead and
// the miss is counted. Shards run elsewhere (--shards) are not waited for.
#pragma once

#include "redis/connection.h"
#include "redis/dialer.h"
#include "target/cluster_slots.h"

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

class SlotMoves {
 public:
  // `owner[slot]`: the index of the shard (of this process) that owns it, -1 for none; `shards`:
  // one more than the highest index.
  SlotMoves(const Dialer& dialer, const std::array<int, kClusterSlots>& owner, size_t shards,
            std::chrono::milliseconds patience = std::chrono::seconds(10));

  // Where shard `shard`'s master is now (its sync calls this when it locates the shard).
  void set_master(size_t shard, const Endpoint& master);
  // Shard `shard` has written its stream to the target up to `offset` (replies read).
  void applied(size_t shard, long long offset);
  // Whether a RESTORE of another shard waits for `shard`: it should write what it holds now.
  bool flush_wanted(size_t shard);
  // Shard `shard` is about to write `keys` (one command's, or a transaction's). Returns when it may.
  void before_write(size_t shard, const std::vector<std::string_view>& keys);

  struct Counts {
    uint64_t ordered = 0;     // writes that waited for the old owner's stream to reach the move
    uint64_t slots = 0;       // slots that became another shard's here
    uint64_t waited_out = 0;  // the old owner's stream did not get there within the patience
  };
  Counts counts();

 private:
  struct Gone {
    long long offset = 0;  // the owner's replication offset, past its last write to the key
    bool slot_left = false;  // the slot is no longer the owner's (-MOVED)
  };
  // Once the owner no longer holds `key`; nullopt while it does (or cannot be asked).
  std::optional<Gone> gone_at(size_t caller, size_t owner, std::string_view key);
  void wait_for(size_t shard, size_t owner, int slot, std::string_view key);

  const Dialer& dialer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::array<std::atomic<int>, kClusterSlots> owner_;
  std::vector<long long> applied_;
  std::vector<std::atomic<int>> flush_wanted_;
  std::vector<std::optional<Endpoint>> masters_;
  // (asking shard, owner shard) -> a connection to the owner's master, used by the asking thread only.
  std::map<std::pair<size_t, size_t>, std::unique_ptr<Connection>> probes_;
  std::chrono::milliseconds patience_;
  Counts counts_;
};

}  // namespace ferry
