// What a migration did, counted: the summary printed at the end and written with --report.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ferry {

struct KeyFailure {
  int db = 0;
  std::string key;  // printable form
  std::string error;
};

struct MigrationReport {
  std::string mode = "scan";
  std::string source;  // Endpoint::describe(): no password
  std::string target;
  std::vector<int> dbs;
  std::string db_map;             // --db-map as given ("0:1,5:6"), empty: none
  std::string key_filter;         // --include/--exclude, described; empty: every key
  std::vector<std::string> include, exclude;  // the patterns themselves (ferry verify reads them back)
  long long ttl_extend_ms = 0;    // --ttl-extend (ferry verify explains expiry shifts with it)
  uint64_t keys_total = 0;        // DBSIZE of the selected DBs when the job started
  uint64_t copied = 0;            // written to the target
  uint64_t copied_chunked = 0;    // of those, through the native chunked writer
  uint64_t skipped_expired = 0;   // expired or deleted on the source before it could be written
  uint64_t skipped_empty = 0;     // collections without elements in an RDB (redis-server skips them too)
  uint64_t skipped_conflict = 0;  // existed on the target and --on-conflict block
  uint64_t filtered = 0;          // left out by --include/--exclude
  uint64_t failed = 0;            // the target rejected it (see failures)
  uint64_t not_attempted = 0;     // left when the job stopped early
  uint64_t skipped_unsupported = 0;  // data the target cannot hold, skipped with --skip-unsupported
  uint64_t functions_loaded = 0;     // function libraries (FUNCTION LOAD)
  uint64_t scripts_loaded = 0;       // Lua scripts of an old RDB's "lua" aux fields (SCRIPT LOAD)
  uint64_t bytes = 0;             // payload bytes moved
  uint64_t oom_refused = 0;       // of the failed, refused by the target for lack of memory (OOM)
  uint64_t dropped_pending_entries = 0;
  uint64_t transformed_dropped = 0;  // keys the transform dropped (ferry.drop())
  uint64_t transformed_added = 0;    // records the transform returned beside the first of a key
  double seconds = 0;
  bool complete = false;          // every key handled
  std::string stopped_because;    // set when the job stopped early
  std::vector<std::string> warnings;
  std::vector<KeyFailure> failures;  // the first few
  static constexpr size_t kMaxFailures = 20;
  // Keys the target refused with OOM (printable form, the first kMaxKeyLists): ferry verify
  // explains their absence with it.
  std::vector<KeyFailure> oom_rejected;
  // Keys skipped with --skip-unsupported and why (the first kMaxKeyLists): ferry verify explains
  // their absence with it.
  std::vector<KeyFailure> unsupported;
  static constexpr size_t kMaxKeyLists = 10000;
  // A cluster target: the redirections ferry followed and the times it read the slot map.
  struct Routing {
    bool cluster = false;
    uint64_t moved = 0, ask = 0, retried = 0, refreshes = 0;  // retried: TRYAGAIN/CLUSTERDOWN waited out
  } routing;

  // The one rule for a task's outcome: nothing stopped it, no key failed or was left as a conflict,
  // and no command of the stream failed or could not be mirrored (`stream_failures`).
  bool is_complete(uint64_t stream_failures = 0) const {
    return stopped_because.empty() && failed == 0 && skipped_conflict == 0 && stream_failures == 0;
  }
  uint64_t handled() const {
    const uint64_t n = copied + skipped_expired + skipped_empty + skipped_conflict + failed + skipped_unsupported +
                       filtered + transformed_dropped;
    return n > transformed_added ? n - transformed_added : 0;
  }
  void add_failure(int db, std::string key, std::string error);
  // A key the target cannot hold, skipped with --skip-unsupported: counted and listed.
  void add_unsupported(int db, std::string key, std::string why);
  // Adds another part's counts (a shard of a cluster source, another process's report): sums,
  // the longest time, lists appended up to their limits, `part` naming where a stop happened.
  void merge(const MigrationReport& other, const std::string& part = {});
  nlohmann::json to_json() const;
  std::string summary_text() const;
  // Writes JSON to a file; throws FerryError(Usage) when the file cannot be written.
  void write_json(const std::string& path) const;
};

}  // namespace ferry
