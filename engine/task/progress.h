// How far a task is, as it runs. The engine reports through Progress, each part of a task (the task
// itself, or one shard of a cluster source) from its own thread; what shows it is the observer's
// business: the task monitor (task_monitor.h: the metrics endpoint, alerts, the periodic log line)
// and, through it, the line on a terminal (TerminalProgress).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace ferry {

struct MigrationReport;
struct StreamStats;

// Where one part is now. The pointers are the reporting thread's own counts, valid during the call
// only: an observer copies what it keeps (they are not safe to read from another thread later).
struct PartStatus {
  std::string_view phase;        // scan, rdb, aof, snapshot, stream, verify
  uint64_t done = 0, total = 0;  // a copy: `done` of `total` `unit`s (total 0: unknown)
  std::string_view unit;
  uint64_t bytes = 0;            // payload bytes moved so far
  uint64_t commands = 0;         // the stream: commands applied in all
  long long lag_bytes = -1;      // the stream: bytes the target is behind the source (-1: unknown)
  std::optional<long long> lag_ms;  // the stream: now minus the source time of the newest write applied
  long long source_offset = -1, applied_offset = -1;  // the replication stream's (-1: none)
  uint64_t partial_resyncs = 0, full_resyncs = 0, retries = 0;
  const MigrationReport* report = nullptr;  // keys copied, failed, refused for OOM; why it stopped
  const StreamStats* stream = nullptr;      // commands per name, errors

  // A copy's progress.
  static PartStatus copy(std::string_view phase, uint64_t done, uint64_t total, std::string_view unit, uint64_t bytes) {
    PartStatus s;
    s.phase = phase;
    s.done = done;
    s.total = total;
    s.unit = unit;
    s.bytes = bytes;
    return s;
  }
  bool streaming() const { return phase == "stream"; }
};

// A copy's decoder calls back per key; a part tells its Progress every kKeysPerReport keys (a
// report costs a status, a clock read and a lock: measurable at a million keys).
inline constexpr uint64_t kKeysPerReport = 64;

class Progress {
 public:
  virtual ~Progress() = default;
  virtual void update(const PartStatus& status) = 0;
  // The phase ended (the copy's line is cleared).
  virtual void done() = 0;
};

// "< 50 ms" when level, else "1234 ms": the lag as people read it.
std::string lag_text(long long lag_ms);

// The line on a terminal (stderr), redrawn at most four times a second: a copy's count of its total
// with rate and ETA, or the stream's commands, rate and lag. Rates are recent (the last five
// seconds), so the rate and the ETA follow the pace instead of a run-long average.
class TerminalProgress : public Progress {
 public:
  static bool stderr_is_tty();
  void update(const PartStatus& status) override;
  void done() override;

 private:
  using Clock = std::chrono::steady_clock;
  void copy(std::string_view phase, uint64_t done, uint64_t total, std::string_view unit, uint64_t bytes);
  void stream(uint64_t commands, long long lag_bytes, std::optional<long long> lag_ms);
  // Records a sample of `count`; returns the recent rate per second (0 until two samples exist).
  double rate(uint64_t count);
  bool due();
  std::string phase_;
  std::deque<std::pair<Clock::time_point, uint64_t>> samples_;
  Clock::time_point last_draw_{};
  bool drawn_ = false;
};

}  // namespace ferry
