// Paces work to at most so many operations and bytes per second (--max-ops, --max-bytes): the key
// sink counts keys, the command sink commands. 0 means no limit.
#pragma once

#include <chrono>
#include <thread>

namespace ferry {

class Throttle {
 public:
  Throttle(long long max_ops = 0, long long max_bytes = 0)
      : max_ops_(max_ops), max_bytes_(max_bytes), window_(std::chrono::steady_clock::now()) {}
  bool limited() const { return max_ops_ || max_bytes_; }
  // One operation of `bytes` done: sleeps out the second when either budget is spent.
  void account(size_t bytes) {
    if (!limited()) return;
    ++ops_;
    bytes_ += static_cast<long long>(bytes);
    if ((max_ops_ && ops_ >= max_ops_) || (max_bytes_ && bytes_ >= max_bytes_)) {
      auto next = window_ + std::chrono::seconds(1);
      if (std::chrono::steady_clock::now() < next) std::this_thread::sleep_until(next);
      window_ = std::chrono::steady_clock::now();
      ops_ = bytes_ = 0;
    }
  }

 private:
  long long max_ops_, max_bytes_, ops_ = 0, bytes_ = 0;
  std::chrono::steady_clock::time_point window_;
};

}  // namespace ferry
