#include "task/migration_report.h"

#include "core/error.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>

namespace ferry {

void MigrationReport::add_failure(int db, std::string key, std::string error) {
  ++failed;
  if (error.find("OOM") != std::string::npos) {  // the target's "OOM command not allowed ...", as quoted
    ++oom_refused;
    if (oom_rejected.size() < kMaxKeyLists) oom_rejected.push_back({db, key, ""});
  }
  if (failures.size() < kMaxFailures) failures.push_back({db, std::move(key), std::move(error)});
}

void MigrationReport::add_unsupported(int db, std::string key, std::string why) {
  ++skipped_unsupported;
  if (unsupported.size() < kMaxKeyLists) unsupported.push_back({db, std::move(key), std::move(why)});
}

void MigrationReport::merge(const MigrationReport& o, const std::string& part) {
  keys_total += o.keys_total;
  copied += o.copied;
  copied_chunked += o.copied_chunked;
  skipped_expired += o.skipped_expired;
  skipped_empty += o.skipped_empty;
  skipped_conflict += o.skipped_conflict;
  filtered += o.filtered;
  failed += o.failed;
  not_attempted += o.not_attempted;
  skipped_unsupported += o.skipped_unsupported;
  functions_loaded += o.functions_loaded;
  scripts_loaded += o.scripts_loaded;
  bytes += o.bytes;
  oom_refused += o.oom_refused;
  dropped_pending_entries += o.dropped_pending_entries;
  transformed_dropped += o.transformed_dropped;
  transformed_added += o.transformed_added;
  seconds = std::max(seconds, o.seconds);
  if (!o.stopped_because.empty())
    stopped_because += (stopped_because.empty() ? "" : "; ") + (part.empty() ? "" : part + ": ") + o.stopped_because;
  for (const auto& w : o.warnings)
    if (std::find(warnings.begin(), warnings.end(), w) == warnings.end()) warnings.push_back(w);
  for (const auto& f : o.failures)
    if (failures.size() < kMaxFailures) failures.push_back(f);
  for (const auto& k : o.oom_rejected)
    if (oom_rejected.size() < kMaxKeyLists) oom_rejected.push_back(k);
  for (const auto& k : o.unsupported)
    if (unsupported.size() < kMaxKeyLists) unsupported.push_back(k);
  routing.cluster = routing.cluster || o.routing.cluster;
  routing.moved += o.routing.moved;
  routing.ask += o.routing.ask;
  routing.retried += o.routing.retried;
  routing.refreshes += o.routing.refreshes;
}

nlohmann::json MigrationReport::to_json() const {
  nlohmann::json j;
  j["mode"] = mode;
  j["source"] = source;
  j["target"] = target;
  j["dbs"] = dbs;
  if (!db_map.empty()) j["db_map"] = db_map;
  if (!key_filter.empty()) j["key_filter"] = key_filter;
  j["filtered"] = filtered;
  j["include"] = include;
  j["exclude"] = exclude;
  j["ttl_extend_ms"] = ttl_extend_ms;
  auto& oom = j["oom_rejected"] = nlohmann::json::array();
  for (const auto& x : oom_rejected) oom.push_back({{"db", x.db}, {"key", x.key}});
  j["keys_total"] = keys_total;
  j["copied"] = copied;
  j["copied_chunked"] = copied_chunked;
  j["skipped_expired"] = skipped_expired;
  j["skipped_empty"] = skipped_empty;
  j["skipped_conflict"] = skipped_conflict;
  j["failed"] = failed;
  j["not_attempted"] = not_attempted;
  j["skipped_unsupported"] = skipped_unsupported;
  auto& unsup = j["unsupported"] = nlohmann::json::array();
  for (const auto& x : unsupported) unsup.push_back({{"db", x.db}, {"key", x.key}, {"why", x.error}});
  j["functions_loaded"] = functions_loaded;
  j["scripts_loaded"] = scripts_loaded;
  j["bytes"] = bytes;
  j["oom_refused"] = oom_refused;
  j["dropped_pending_entries"] = dropped_pending_entries;
  j["transformed_dropped"] = transformed_dropped;
  j["transformed_added"] = transformed_added;
  j["seconds"] = seconds;
  j["complete"] = complete;
  if (!stopped_because.empty()) j["stopped_because"] = stopped_because;
  j["warnings"] = warnings;
  if (routing.cluster)
    j["routing"] = {{"moved", routing.moved}, {"ask", routing.ask}, {"retried", routing.retried},
                    {"map_reads", routing.refreshes}};
  auto& f = j["failures"] = nlohmann::json::array();
  for (const auto& x : failures) f.push_back({{"db", x.db}, {"key", x.key}, {"error", x.error}});
  return j;
}

std::string MigrationReport::summary_text() const {
  std::string out = fmt::format(
      "ferry migrate --mode {}: {}\n"
      "  {} -> {}, DBs {}\n"
      "  copied            {} ({} through the chunked writer)\n"
      "  skipped-expired   {} (expired or deleted on the source before they were written)\n"
      "  skipped-conflict  {}\n"
      "  failed            {}\n",
      mode, complete ? "complete" : "INCOMPLETE", source, target, dbs.empty() ? "all" : fmt::format("{}", fmt::join(dbs, ",")),
      copied, copied_chunked,
      skipped_expired, skipped_conflict, failed);
  if (!db_map.empty()) out += fmt::format("  db-map            {}\n", db_map);
  if (!key_filter.empty()) out += fmt::format("  filtered          {} keys left out ({})\n", filtered, key_filter);
  if (skipped_empty) out += fmt::format("  skipped-empty     {} (collections without elements, as redis-server skips them)\n", skipped_empty);
  if (skipped_unsupported) out += fmt::format("  skipped-unsupported {} (data the target cannot hold)\n", skipped_unsupported);
  if (functions_loaded || scripts_loaded)
    out += fmt::format("  functions loaded  {} libraries, {} Lua scripts\n", functions_loaded, scripts_loaded);
  if (transformed_dropped || transformed_added)
    out += fmt::format("  transformed       {} keys dropped by the transform, {} records added beside their key\n",
                       transformed_dropped, transformed_added);
  if (not_attempted) out += fmt::format("  not attempted     {} (the job stopped early)\n", not_attempted);
  out += fmt::format("  time              {:.2f} s, {:.1f} MB moved, {:.0f} keys/s\n", seconds, bytes / 1e6,
                     seconds > 0 ? handled() / seconds : 0.0);
  if (routing.cluster)
    out += fmt::format("  routing           {} MOVED and {} ASK followed, {} TRYAGAIN/CLUSTERDOWN waited out, slot map "
                       "read {} times\n",
                       routing.moved, routing.ask, routing.retried, routing.refreshes);
  if (!stopped_because.empty()) out += fmt::format("  stopped because:  {}\n", stopped_because);
  for (const auto& w : warnings) out += fmt::format("  warning: {}\n", w);
  for (const auto& f : failures) out += fmt::format("  failed key: db {} '{}': {}\n", f.db, f.key, f.error);
  if (failed > failures.size()) out += fmt::format("  ... and {} more failed keys\n", failed - failures.size());
  return out;
}

void MigrationReport::write_json(const std::string& path) const {
  std::ofstream out(path);
  if (!out) throw FerryError(ExitCode::Usage, fmt::format("cannot write report file '{}'", path));
  out << to_json().dump(2) << "\n";
}

}  // namespace ferry
