#include "proxy/faults.h"

#include <algorithm>

namespace ferry::sim {

bool Fault::in_window(ProxyClock::time_point now) const {
  auto start = added_ + std::chrono::milliseconds(spec_.at_ms);
  if (now < start) return false;
  return spec_.for_ms == 0 || now < start + std::chrono::milliseconds(spec_.for_ms);
}

bool Fault::expired(ProxyClock::time_point now) const {
  return spec_.for_ms > 0 && now >= added_ + std::chrono::milliseconds(spec_.at_ms + spec_.for_ms);
}

std::optional<size_t> Fault::trigger_offset(const LinkCounters& c, size_t bytes) const {
  uint64_t position = 0, counted = 0;
  if (spec_.after_psync_bytes) {
    if (!c.psync_seen) return std::nullopt;
    position = *spec_.after_psync_bytes;
    counted = c.after_psync;
  } else if (spec_.after_bytes) {
    position = *spec_.after_bytes;
    counted = c.forwarded;
  } else {
    return 0;
  }
  if (counted >= position) return 0;
  if (counted + bytes >= position) return static_cast<size_t>(position - counted);
  return std::nullopt;
}

void LatencyFault::plan(const LinkCounters& c, size_t bytes, ChunkPlan& plan, std::mt19937_64& rng) {
  if (!trigger_offset(c, bytes)) return;
  long long ms = spec_.ms;
  if (spec_.jitter_ms > 0)
    ms += std::uniform_int_distribution<long long>(-spec_.jitter_ms, spec_.jitter_ms)(rng);
  plan.delay += std::chrono::milliseconds(std::max(0LL, ms));
}

void BandwidthFault::plan(const LinkCounters& c, size_t bytes, ChunkPlan& plan, std::mt19937_64&) {
  if (!trigger_offset(c, bytes)) return;
  size_t piece = static_cast<size_t>(std::max<uint64_t>(1, spec_.rate / 20));
  if (plan.piece == 0 || piece < plan.piece) plan.piece = piece;
  plan.piece_delay = std::max(plan.piece_delay, std::chrono::microseconds(static_cast<long long>(1e6 * plan.piece / spec_.rate)));
  plan.delay += plan.piece_delay;  // the first piece waits its turn too
}

void SlicerFault::plan(const LinkCounters& c, size_t bytes, ChunkPlan& plan, std::mt19937_64&) {
  if (!trigger_offset(c, bytes)) return;
  if (plan.piece == 0 || spec_.size < plan.piece) plan.piece = spec_.size;
  plan.piece_delay = std::max(plan.piece_delay, std::chrono::microseconds(spec_.delay_us));
}

void EndFault::plan(const LinkCounters& c, size_t bytes, ChunkPlan& plan, std::mt19937_64&) {
  if (fired_ || !has_byte_trigger()) return;
  auto at = trigger_offset(c, bytes);
  if (!at) return;
  fired_ = true;
  if (!plan.cut || *at < *plan.cut) {
    plan.cut = *at;
    plan.end = spec_.kind == FaultKind::Reset ? ChunkPlan::End::Reset : ChunkPlan::End::Close;
  }
}

void BlackholeFault::plan(const LinkCounters& c, size_t bytes, ChunkPlan& plan, std::mt19937_64&) {
  if (trigger_offset(c, bytes)) plan.hold = true;
}

std::unique_ptr<Fault> make_fault(const FaultSpec& spec, ProxyClock::time_point added) {
  switch (spec.kind) {
    case FaultKind::Latency: return std::make_unique<LatencyFault>(spec, added);
    case FaultKind::Bandwidth: return std::make_unique<BandwidthFault>(spec, added);
    case FaultKind::Slicer: return std::make_unique<SlicerFault>(spec, added);
    case FaultKind::Reset:
    case FaultKind::Close: return std::make_unique<EndFault>(spec, added);
    case FaultKind::Blackhole: return std::make_unique<BlackholeFault>(spec, added);
    case FaultKind::Refuse: return std::make_unique<RefuseFault>(spec, added);
  }
  return nullptr;
}

}  // namespace ferry::sim
