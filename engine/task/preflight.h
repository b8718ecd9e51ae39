// The checks `ferry migrate` runs before it writes anything. Failures stop the job; warnings
// stop it too unless --accept-warnings (the full `ferry precheck` comes with its own issue).
#pragma once

#include "redis/connection.h"

#include <string>
#include <vector>

namespace ferry {

struct PreflightResult {
  std::vector<std::string> failures;
  std::vector<std::string> warnings;
};

// source may be null (an RDB file import): only the target is checked then.
PreflightResult preflight_checks(Connection* source, Connection& target);

}  // namespace ferry
