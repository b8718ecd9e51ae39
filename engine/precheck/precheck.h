// `ferry precheck`: named checks, each pass / warn / fail with what was found and how to fix it,
// run before a byte moves. Read-only: nothing is written to either server, and PSYNC is never sent
// (permissions are asked with ACL DRYRUN, commands looked up with COMMAND INFO).
#pragma once

#include "redis/connection.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace ferry {

enum class CheckStatus { Pass, Warn, Fail };
const char* check_status_name(CheckStatus status);

struct CheckResult {
  std::string name;  // fixed names: source-connection, target-connection, source-permission, ...
  CheckStatus status = CheckStatus::Pass;
  std::string found;
  std::string fix;   // empty when nothing is to be done
};

struct PrecheckOptions {
  std::string mode = "scan";  // scan, snapshot, sync, rdb
  std::vector<int> dbs;       // empty: every non-empty DB of the source
  bool replace = false;       // --on-conflict replace
  Timeouts timeouts;
};

struct PrecheckReport {
  std::vector<CheckResult> checks;
  ExitCode connection_error = ExitCode::Ok;  // Connection when a server could not be reached/authenticated
  CheckStatus overall() const;
  // 0 pass, 1 any fail, 2 warnings only; 4 when a server could not be reached or authenticated.
  int exit_code() const;
  nlohmann::json to_json() const;
  std::string to_table() const;
};

// source may be absent (an RDB import): source checks are left out then.
PrecheckReport run_precheck(const Endpoint* source, const Endpoint& target, const PrecheckOptions& options);

}  // namespace ferry
