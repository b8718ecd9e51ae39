// A fault of the proxy, as written on the command line and in scenario files:
//
//   KIND[:KEY=VALUE[,KEY=VALUE...]]
//
// KIND: latency (ms, jitter), bandwidth (rate, bytes per second, K/M suffixes), slicer (size,
// delay-us), reset (a real RST), close (a clean FIN), blackhole (stop forwarding, connection kept
// open), refuse (new connections refused). Keys every kind takes:
//   dir=up|down|both          up: client -> server; down: server -> client (default both;
//                             after-psync-bytes counts down)
//   at=MS                     active MS after the fault is added (default 0: now)
//   for=MS                    then for MS (default: until removed)
//   after-bytes=N             once N bytes have passed in `dir` on a connection
//   after-psync-bytes=N       once N bytes have passed server -> client after the client sent
//                             PSYNC or SYNC: in the middle of a snapshot, whatever else connected first
//                             (read in the client's bytes: never over TLS, whose bytes pass untouched)
// reset and close act once, at their trigger: with after-bytes they forward exactly N bytes first.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ferry::sim {

enum class FaultKind { Latency, Bandwidth, Slicer, Reset, Close, Blackhole, Refuse };
enum class Direction { Up, Down, Both };

struct FaultSpec {
  FaultKind kind = FaultKind::Latency;
  Direction dir = Direction::Both;
  long long at_ms = 0;
  long long for_ms = 0;  // 0: until removed
  std::optional<uint64_t> after_bytes;
  std::optional<uint64_t> after_psync_bytes;
  long long ms = 0, jitter_ms = 0;  // latency
  uint64_t rate = 0;                // bandwidth, bytes per second
  size_t size = 1;                  // slicer: piece size
  long long delay_us = 0;           // slicer: pause between pieces
  std::string text;                 // as written

  bool applies_to(Direction d) const { return dir == Direction::Both || dir == d; }
};

// Throws FerryError(Usage) naming the bad part.
FaultSpec parse_fault_spec(const std::string& text);

// The grammar above, for --help and the README.
const char* fault_spec_grammar();

}  // namespace ferry::sim
