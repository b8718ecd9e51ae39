// Why a key differs after the last round of `ferry verify`: exactly one known cause per divergence,
// or `unexplained` with its evidence. The migration's own report (--task-report) tells what the
// task selected, how it shifted expiries, and which keys it could not write or confirm.
#pragma once

#include "task/key_selection.h"
#include "verify/key_compare.h"

#include <nlohmann/json.hpp>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ferry {

enum class Cause {
  Filtered, AfterCutover, Expired, TtlExtended, OomRejected, Unsupported, LuaUnconfirmed, Evicted, ListDuplicates, StaleExtra,
  Unexplained
};
const char* cause_name(Cause cause);
const std::vector<Cause>& all_causes();

// What a migration task reported about itself (`ferry migrate --report`).
struct TaskContext {
  bool present = false;
  std::vector<int> dbs;  // empty: every DB
  DbMap db_map;
  KeyFilter filter;
  long long ttl_extend_ms = 0;
  std::set<std::pair<int, std::string>> oom_rejected;     // (source DB, printable key)
  std::map<std::pair<int, std::string>, std::string> unsupported;  // skipped with --skip-unsupported -> why
  std::set<std::pair<int, std::string>> script_written;   // keys of unconfirmed scripts
  // Where a sync task ended (its report's replid, applied_offset, stream_db): verify watches the
  // source's stream from there (CutoverWatch).
  std::string replid;
  long long applied_offset = -1;
  int stream_db = 0;
  // Reads a report file; throws FerryError(CorruptInput) naming the file for one that is not JSON.
  static TaskContext from_report_file(const std::string& path);
  bool selects(int db, const std::string& key) const;
};

struct Divergence {
  int db = 0;
  std::string key;  // printable
  std::string type;
  Difference difference = Difference::None;
  Cause cause = Cause::Unexplained;
  std::string detail;
  nlohmann::json to_json() const;
};

class DivergenceExplainer {
 public:
  // `expiry_window_ms`: a key expiring within this much of now counts as expiring (the two servers
  // expire it at slightly different moments).
  // `watch`: the keys written on the source after the task's cutover (none: not watched).
  DivergenceExplainer(Connection& source, Connection& target, const TaskContext& task, long long ttl_tolerance_ms,
                      size_t window, const class CutoverWatch* watch = nullptr);
  // Both connections must be on the verdict's DBs (as KeyComparator::compare left them).
  Divergence explain(const KeyVerdict& verdict);

 private:
  bool has_repeated_run(const std::string& key, long long source_len, long long target_len);

  Connection& source_;
  Connection& target_;
  const TaskContext& task_;
  long long tolerance_ms_;
  size_t window_;
  const CutoverWatch* watch_;
  bool evicting_ = false;
  std::string eviction_evidence_;
};

}  // namespace ferry
