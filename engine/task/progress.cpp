#include "task/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace ferry {

std::string lag_text(long long lag_ms) { return lag_ms < 50 ? "< 50 ms" : fmt::format("{} ms", lag_ms); }

bool TerminalProgress::stderr_is_tty() { return isatty(STDERR_FILENO) == 1; }

bool TerminalProgress::due() {
  auto now = Clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(250)) return false;
  last_draw_ = now;
  drawn_ = true;
  return true;
}

double TerminalProgress::rate(uint64_t count) {
  auto now = Clock::now();
  if (!samples_.empty() && count < samples_.back().second) samples_.clear();  // a new count began
  samples_.emplace_back(now, count);
  while (samples_.size() > 2 && now - samples_.front().first > std::chrono::seconds(5)) samples_.pop_front();
  double secs = std::chrono::duration<double>(now - samples_.front().first).count();
  return secs > 0.2 ? (count - samples_.front().second) / secs : 0.0;
}

void TerminalProgress::update(const PartStatus& s) {
  if (s.streaming()) stream(s.commands, s.lag_bytes, s.lag_ms);
  else copy(s.phase, s.done, s.total, s.unit, s.bytes);
}

void TerminalProgress::copy(std::string_view phase, uint64_t done, uint64_t total, std::string_view unit, uint64_t bytes) {
  if (phase != phase_) {
    phase_ = phase;
    samples_.clear();
  }
  double per_second = rate(done);
  if (!due()) return;
  std::string eta = "?";
  if (total && done >= total) {
    eta = "0:00";
  } else if (total && per_second > 0) {
    auto left = static_cast<long long>((total - done) / per_second);
    eta = fmt::format("{}:{:02}", left / 60, left % 60);
  }
  std::string of = total ? fmt::format(" / {} {} ({:.1f}%)", total, unit, 100.0 * std::min(done, total) / total)
                         : fmt::format(" {}", unit);
  std::string moved = unit == "bytes" ? "" : fmt::format("  {:.1f} MB", bytes / 1e6);  // bytes counted already
  fmt::print(stderr, "\r\033[K{}: {}{}  {:.0f} {}/s{}  ETA {}", phase, done, of, per_second, unit, moved, eta);
  std::fflush(stderr);
}

void TerminalProgress::stream(uint64_t commands, long long lag_bytes, std::optional<long long> lag_ms) {
  if (phase_ != "stream") {
    phase_ = "stream";
    samples_.clear();
  }
  double per_second = rate(commands);
  if (!due()) return;
  fmt::print(stderr, "\r\033[Kstream: {} commands applied, {:.0f} ops/s, lag {} ({} behind)", commands, per_second,
             lag_ms ? lag_text(*lag_ms) : std::string("? ms"),
             lag_bytes >= 0 ? fmt::format("{} bytes", lag_bytes) : std::string("? bytes"));
  std::fflush(stderr);
}

void TerminalProgress::done() {
  if (drawn_) fmt::print(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
  phase_.clear();
  samples_.clear();
}

}  // namespace ferry
