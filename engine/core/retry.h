// The one retry loop: every reconnection ferry attempts (the replication link, the source's side
// connection, the target) goes through retry_with_backoff, which backs off 0.5 s doubling to 5 s,
// gives up when the window has passed, and returns at once when a stop is asked for.
#pragma once

#include "core/error.h"
#include "core/log.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace ferry {

// A stop (SIGINT/SIGTERM) was asked for while waiting: not a failure.
class StopRequested : public std::exception {
 public:
  const char* what() const noexcept override { return "stop requested"; }
};

inline bool stop_requested(const std::atomic<bool>* stop) { return stop && stop->load(); }

// Sleeps up to `duration`, waking early when a stop is asked for (throws StopRequested).
inline void sleep_unless_stopped(std::chrono::milliseconds duration, const std::atomic<bool>* stop) {
  auto until = std::chrono::steady_clock::now() + duration;
  for (;;) {
    if (stop_requested(stop)) throw StopRequested();
    auto left = until - std::chrono::steady_clock::now();
    if (left <= std::chrono::milliseconds(0)) return;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds(50)));
  }
}

// Calls `attempt` until it returns; a FerryError with code Connection (a server that is away, a
// broken link) is retried, anything else passes through. Past `window`, the last failure is thrown
// as FerryError(Failed) saying how long `what` was tried.
template <typename Attempt>
auto retry_with_backoff(std::chrono::seconds window, const std::atomic<bool>* stop, const std::string& what,
                        Attempt&& attempt) -> decltype(attempt()) {
  const auto started = std::chrono::steady_clock::now();
  auto backoff = std::chrono::milliseconds(500);
  for (;;) {
    if (stop_requested(stop)) throw StopRequested();
    try {
      return attempt();
    } catch (const FerryError& e) {
      if (e.code() != ExitCode::Connection) throw;
      if (std::chrono::steady_clock::now() - started > window)
        throw FerryError(ExitCode::Failed, fmt::format("{}: still failing after {} s (the retry window): {}", what,
                                                       window.count(), e.what()));
      log::warn("{} failed ({}); retrying in {} ms", what, e.what(), backoff.count());
    }
    sleep_unless_stopped(backoff, stop);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

}  // namespace ferry
