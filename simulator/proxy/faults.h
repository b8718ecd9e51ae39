// The faults of the proxy, one small type each. A fault looks at one chunk about to be forwarded
// in one direction of one connection and adds to the chunk's plan: a delay, pieces, a hold, a cut
// followed by a reset or a close. Time windows (at=, for=) and byte triggers (after-bytes=,
// after-psync-bytes=) are common to all and live in the base class.
#pragma once

#include "proxy/fault_spec.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>

namespace ferry::sim {

using ProxyClock = std::chrono::steady_clock;

// Counters of one direction of one connection.
struct LinkCounters {
  uint64_t forwarded = 0;
  bool psync_seen = false;   // the client has sent PSYNC or SYNC on this connection
  uint64_t after_psync = 0;  // bytes forwarded server -> client since then
};

// What happens to one chunk.
struct ChunkPlan {
  std::chrono::microseconds delay{0};        // before its first byte
  size_t piece = 0;                          // written in pieces of this size (0: whole)
  std::chrono::microseconds piece_delay{0};  // between pieces
  std::optional<size_t> cut;                 // forward only this many bytes, then `end`
  enum class End { None, Reset, Close } end = End::None;
  bool hold = false;                         // forward nothing yet; plan again shortly
};

class Fault {
 public:
  Fault(FaultSpec spec, ProxyClock::time_point added) : spec_(std::move(spec)), added_(added) {}
  virtual ~Fault() = default;
  const FaultSpec& spec() const { return spec_; }
  bool in_window(ProxyClock::time_point now) const;
  bool expired(ProxyClock::time_point now) const;
  // Where in a chunk of `bytes` the byte trigger fires: 0 when it has fired already (or there is
  // none), k when after the chunk's k-th byte, nullopt when not within this chunk.
  std::optional<size_t> trigger_offset(const LinkCounters& c, size_t bytes) const;
  bool has_byte_trigger() const { return spec_.after_bytes || spec_.after_psync_bytes; }
  virtual void plan(const LinkCounters& c, size_t bytes, ChunkPlan& plan, std::mt19937_64& rng) = 0;

 protected:
  FaultSpec spec_;
  ProxyClock::time_point added_;
};

// latency:ms=N,jitter=J: each chunk waits N +- J ms.
class LatencyFault : public Fault {
 public:
  using Fault::Fault;
  void plan(const LinkCounters& c, size_t bytes, ChunkPlan& plan, std::mt19937_64& rng) override;
};

// bandwidth:rate=R: pieces of R/20 bytes, 50 ms apart.
class BandwidthFault : public Fault {
 public:
  using Fault::Fault;
  void plan(const LinkCounters& c, size_t bytes, ChunkPlan& plan, std::mt19937_64& rng) override;
};

// slicer:size=N,delay-us=D: writes of N bytes, D microseconds apart.
class SlicerFault : public Fault {
 public:
  using Fault::Fault;
  void plan(const LinkCounters& c, size_t bytes, ChunkPlan& plan, std::mt19937_64& rng) override;
};

// reset / close at a byte trigger: forward up to it, then end the connection. Fires once.
// Without a byte trigger the proxy applies them to every open connection when their time comes.
class EndFault : public Fault {
 public:
  using Fault::Fault;
  void plan(const LinkCounters& c, size_t bytes, ChunkPlan& plan, std::mt19937_64& rng) override;
  bool fired() const { return fired_; }
  void set_fired() { fired_ = true; }

 private:
  bool fired_ = false;
};

// blackhole: hold everything while active.
class BlackholeFault : public Fault {
 public:
  using Fault::Fault;
  void plan(const LinkCounters& c, size_t bytes, ChunkPlan& plan, std::mt19937_64& rng) override;
};

// refuse: the proxy closes its listening socket while active (see FaultProxy); no chunk effect.
class RefuseFault : public Fault {
 public:
  using Fault::Fault;
  void plan(const LinkCounters&, size_t, ChunkPlan&, std::mt19937_64&) override {}
};

std::unique_ptr<Fault> make_fault(const FaultSpec& spec, ProxyClock::time_point added);

}  // namespace ferry::sim
