#include "task/progress.h"

#include <fmt/format.h>
#include <unistd.h>

namespace ferry {

ProgressMeter::ProgressMeter(uint64_t total, bool enabled, const char* unit)
    : total_(total), enabled_(enabled), unit_(unit), start_(std::chrono::steady_clock::now()), last_(start_) {}

bool ProgressMeter::stderr_is_tty() { return isatty(STDERR_FILENO) == 1; }

void ProgressMeter::update(uint64_t done, uint64_t bytes) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(250)) return;
  last_ = now;
  drawn_ = true;
  double secs = std::chrono::duration<double>(now - start_).count();
  double rate = secs > 0 ? done / secs : 0;
  std::string eta = "?";
  if (rate > 0 && total_ > done) {
    auto left = static_cast<long long>((total_ - done) / rate);
    eta = fmt::format("{}:{:02}", left / 60, left % 60);
  } else if (total_ <= done) {
    eta = "0:00";
  }
  double pct = total_ ? 100.0 * done / total_ : 100.0;
  fmt::print(stderr, "\r\033[K{} / {} {} ({:.1f}%)  {:.0f} {}/s  {:.1f} MB/s  ETA {}", done, total_, unit_, pct, rate,
             unit_, secs > 0 ? bytes / secs / 1e6 : 0.0, eta);
  std::fflush(stderr);
}

void ProgressMeter::finish() {
  if (enabled_ && drawn_) fmt::print(stderr, "\r\033[K");
  drawn_ = false;
}

}  // namespace ferry
