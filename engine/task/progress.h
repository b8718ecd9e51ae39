// A one-line progress meter on a terminal (keys done of total, keys/s, bytes/s, ETA); silent when
// stderr is not a TTY.
#pragma once

#include <chrono>
#include <cstdint>

namespace ferry {

class ProgressMeter {
 public:
  // enabled: show at all (normally isatty(stderr)). unit: what `done` counts ("keys", "bytes").
  ProgressMeter(uint64_t total, bool enabled, const char* unit = "keys");
  // Redraws at most a few times a second.
  void update(uint64_t done, uint64_t bytes);
  // Clears the line.
  void finish();
  static bool stderr_is_tty();

 private:
  uint64_t total_;
  bool enabled_;
  const char* unit_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace ferry
