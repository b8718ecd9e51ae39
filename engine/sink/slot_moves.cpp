#include "sink/slot_moves.h"

#include "core/log.h"

#include <fmt/format.h>

#include <thread>

namespace ferry {

SlotMoves::SlotMoves(const Dialer& dialer, const std::array<int, kClusterSlots>& owner, size_t shards,
                     std::chrono::milliseconds patience)
    : dialer_(dialer), applied_(shards, -1), flush_wanted_(shards), masters_(shards), patience_(patience) {
  for (size_t i = 0; i < owner.size(); ++i) owner_[i] = owner[i];
}

void SlotMoves::set_master(size_t shard, const Endpoint& master) {
  std::lock_guard lock(mu_);
  if (masters_[shard] && masters_[shard]->address() != master.address())
    for (auto it = probes_.begin(); it != probes_.end();) it = it->first.second == shard ? probes_.erase(it) : std::next(it);
  masters_[shard] = master;
}

void SlotMoves::applied(size_t shard, long long offset) {
  std::lock_guard lock(mu_);
  applied_[shard] = std::max(applied_[shard], offset);
  cv_.notify_all();
}

bool SlotMoves::flush_wanted(size_t shard) {
  return flush_wanted_[shard].load(std::memory_order_relaxed) > 0;  // asked after every command: no lock
}

std::optional<SlotMoves::Gone> SlotMoves::gone_at(size_t caller, size_t owner, std::string_view key) {
  Connection* conn = nullptr;
  {
    std::lock_guard lock(mu_);
    auto& slot = probes_[{caller, owner}];
    if (!slot && masters_[owner]) slot = dialer_.connect(*masters_[owner], "source");
    conn = slot.get();
  }
  if (!conn) return std::nullopt;
  try {
    Reply exists = conn->command({"EXISTS", std::string(key)});
    Gone g;
    if (exists.is_error()) {
      g.slot_left = exists.str.rfind("MOVED ", 0) == 0;
      if (!g.slot_left && exists.str.rfind("ASK ", 0) != 0) return std::nullopt;  // TRYAGAIN, LOADING ...
    } else if (exists.integer > 0) {
      return std::nullopt;  // still there: a RESTORE-ASKING whose MIGRATE has not deleted it yet
    }
    g.offset = std::atoll(conn->info("replication")["master_repl_offset"].c_str());
    return g;
  } catch (const FerryError&) {
    std::lock_guard lock(mu_);
    probes_.erase({caller, owner});  // opened again on the next try (a failover moved its master)
    return std::nullopt;
  }
}

void SlotMoves::wait_for(size_t shard, size_t owner, int slot, std::string_view key) {
  const auto deadline = std::chrono::steady_clock::now() + patience_;
  std::optional<Gone> gone;
  while (!(gone = gone_at(shard, owner, key)) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::unique_lock lock(mu_);
  bool ok = false;
  if (gone) {
    ++flush_wanted_[owner];
    ok = cv_.wait_until(lock, deadline, [&] { return applied_[owner] >= gone->offset; });
    --flush_wanted_[owner];
  }
  if (ok) {
    ++counts_.ordered;
    int expected = static_cast<int>(owner);
    if (gone->slot_left && owner_[static_cast<size_t>(slot)].compare_exchange_strong(expected, static_cast<int>(shard)))
      ++counts_.slots;
    return;
  }
  if (++counts_.waited_out == 1)
    log::warn("source shard {} wrote a key of slot {}, which shard {} held, and shard {}'s stream did not reach the point "
              "where it gave the key away within {} ms: the write went ahead (shard {}'s last writes to the key may land "
              "after it)",
              shard, slot, owner, owner, patience_.count(), owner);
}

void SlotMoves::before_write(size_t shard, const std::vector<std::string_view>& keys) {
  for (std::string_view key : keys) {
    const int slot = key_slot(key);
    const int owner = owner_[static_cast<size_t>(slot)].load(std::memory_order_relaxed);
    if (owner < 0 || static_cast<size_t>(owner) == shard) continue;  // its own slot, or no shard run here
    wait_for(shard, static_cast<size_t>(owner), slot, key);
  }
}

SlotMoves::Counts SlotMoves::counts() {
  std::lock_guard lock(mu_);
  return counts_;
}

}  // namespace ferry
