// ferry's version, as `ferry --version` prints it and reports carry it.
#pragma once

namespace ferry {

inline constexpr const char* kVersion = "ferry 0.2.0";

}  // namespace ferry
