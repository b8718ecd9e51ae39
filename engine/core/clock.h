// Wall-clock time as Redis counts it for expiries: Unix milliseconds.
#pragma once

#include <chrono>

namespace ferry {

inline long long unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ferry
