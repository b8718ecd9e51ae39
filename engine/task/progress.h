// How far a task is, as it runs. The engine reports through Progress; what shows it is the
// observer's business: the line on a terminal (TerminalProgress), later the metrics endpoint.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace ferry {

class Progress {
 public:
  virtual ~Progress() = default;
  // A full copy (scan, snapshot, RDB import): `done` of `total` `unit`s (total 0: unknown), `bytes`
  // moved so far.
  virtual void copy(std::string_view phase, uint64_t done, uint64_t total, std::string_view unit, uint64_t bytes) = 0;
  // The command stream: commands applied in all, the lag in bytes (-1: unknown) and in ms.
  virtual void stream(uint64_t commands, long long lag_bytes, std::optional<long long> lag_ms) = 0;
  // The phase ended.
  virtual void done() = 0;
};

// "< 50 ms" when level, else "1234 ms": the lag as people read it.
std::string lag_text(long long lag_ms);

// The line on a terminal (stderr), redrawn at most four times a second. Rates are recent (the last
// five seconds), so the rate and the ETA follow the pace instead of a run-long average.
class TerminalProgress : public Progress {
 public:
  static bool stderr_is_tty();
  void copy(std::string_view phase, uint64_t done, uint64_t total, std::string_view unit, uint64_t bytes) override;
  void stream(uint64_t commands, long long lag_bytes, std::optional<long long> lag_ms) override;
  void done() override;

 private:
  using Clock = std::chrono::steady_clock;
  // Records a sample of `count`; returns the recent rate per second (0 until two samples exist).
  double rate(uint64_t count);
  bool due();
  std::string phase_;
  std::deque<std::pair<Clock::time_point, uint64_t>> samples_;
  Clock::time_point last_draw_{};
  bool drawn_ = false;
};

}  // namespace ferry
