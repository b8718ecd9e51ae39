// `ferry precheck`: named checks, each pass / warn / fail with what was found and how to fix it,
// run before a byte moves. Read-only: nothing is written to either server, and PSYNC is never sent
// (permissions are asked with ACL DRYRUN, commands looked up with COMMAND INFO).
#pragma once

#include "redis/connection.h"
#include "task/key_selection.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace ferry {

struct AofFacts;  // task/aof_file_check.h

enum class CheckStatus { Pass, Warn, Fail };
const char* check_status_name(CheckStatus status);

struct CheckResult {
  std::string name;  // fixed names: source-connection, target-connection, source-permission, ...
  CheckStatus status = CheckStatus::Pass;
  std::string found;
  std::string fix;   // empty when nothing is to be done
  bool ignored = false;  // named by --skip-check: listed, but not counted in the outcome
};

// The fixed check names, in the order they are run.
const std::vector<std::string>& check_names();
bool is_check_name(const std::string& name);

struct PrecheckOptions {
  std::string mode = "scan";  // scan, snapshot, sync, rdb
  std::vector<int> dbs;       // empty: every non-empty DB of the source
  DbMap db_map;               // --db-map: the target DBs checked are the mapped ones
  bool replace = false;       // --on-conflict replace
  bool resuming = false;      // a sync task's state file exists: the target's keys are its own writes
  Timeouts timeouts;
  std::vector<std::string> skip;  // --skip-check: outcomes ignored
  std::vector<std::string> rdb_files;  // mode rdb: each checked for a readable RDB header (exit 5 if not)
  std::string aof_path;                // mode aof: every file read whole (exit 5 if one cannot be loaded)
  long long aof_until = 0;             // --aof-until (0: none)
  std::string work_dir = "/tmp";       // where an RDB part's key set waits
  bool skip_unsupported = false;  // --skip-unsupported: data the target cannot hold warns (it is skipped and counted)
  bool publish = true;            // sync applies the stream's PUBLISH (--no-publish: dropped)
  std::string source_read = "master";  // a cluster source: the node of each shard read (--source-read)
  std::vector<std::string> shards;     // a cluster source: --shards
};

struct PrecheckReport {
  std::vector<CheckResult> checks;
  ExitCode connection_error = ExitCode::Ok;  // Connection when a server could not be reached/authenticated
  bool unreadable_input = false;             // the RDB file cannot be read (exit 5)
  // Mode aof: every file as read whole for the check; the import starts from it (no second read).
  std::shared_ptr<const AofFacts> aof;
  CheckStatus overall() const;               // ignored checks left out
  // 0 pass, 1 any fail, 2 warnings only; 4 when a server could not be reached or authenticated and
  // 5 when the input file is unreadable take precedence.
  int exit_code() const;
  nlohmann::json to_json() const;
  std::string to_table() const;
};

// source may be absent (an RDB import): source checks are left out then. Checks named in
// options.skip are marked ignored.
PrecheckReport run_precheck(const Endpoint* source, const Endpoint& target, const PrecheckOptions& options);

}  // namespace ferry
