#include "task/report_merge.h"

#include "core/error.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace ferry {
namespace {

// Stream positions belong to one source server: a merged report keeps them per shard only.
const std::set<std::string> kPerSource{"replid", "snapshot_offset", "applied_offset", "source_offset", "lag_bytes", "stream_db"};
const std::set<std::string> kLongest{"seconds", "snapshot_seconds", "lag_ms"};
const std::set<std::string> kAll{"complete", "caught_up"};

void merge_into(nlohmann::json& into, const nlohmann::json& from) {
  for (const auto& [key, value] : from.items()) {
    if (kPerSource.count(key)) continue;
    if (!into.contains(key) || into[key].is_null()) {
      into[key] = value;
      continue;
    }
    nlohmann::json& mine = into[key];
    if (value.is_null()) continue;
    if (kLongest.count(key) && value.is_number() && mine.is_number()) {
      mine = std::max(mine.get<double>(), value.get<double>());
    } else if (value.is_boolean() && mine.is_boolean()) {
      mine = kAll.count(key) ? (mine.get<bool>() && value.get<bool>()) : (mine.get<bool>() || value.get<bool>());
    } else if (value.is_number_unsigned() && mine.is_number_unsigned()) {
      mine = mine.get<uint64_t>() + value.get<uint64_t>();
    } else if (value.is_number_integer() && mine.is_number_integer()) {
      mine = mine.get<long long>() + value.get<long long>();
    } else if (value.is_number() && mine.is_number()) {
      mine = mine.get<double>() + value.get<double>();
    } else if (value.is_string() && mine.is_string()) {
      const std::string a = mine.get<std::string>(), b = value.get<std::string>();
      const char* sep = key == "stopped_because" || key == "writes_continue" ? "; " : " + ";
      if (a.empty()) mine = b;
      else if (!b.empty() && a.find(b) == std::string::npos) mine = a + sep + b;
    } else if (value.is_array() && mine.is_array()) {
      for (const auto& e : value)
        if (key != "dbs" && key != "warnings" ? true : std::find(mine.begin(), mine.end(), e) == mine.end()) mine.push_back(e);
    } else if (value.is_object() && mine.is_object()) {
      merge_into(mine, value);
    }
  }
}

}  // namespace

nlohmann::json merge_reports(const std::vector<nlohmann::json>& reports, const std::vector<std::string>& names) {
  nlohmann::json out = nlohmann::json::object();
  std::string mode;
  for (size_t i = 0; i < reports.size(); ++i) {
    const auto& r = reports[i];
    const std::string name = i < names.size() ? names[i] : fmt::format("report {}", i + 1);
    if (!r.is_object() || !r.contains("mode") || !r.contains("copied"))
      throw FerryError(ExitCode::Usage, fmt::format("{} is not a task report (ferry migrate --report)", name));
    if (mode.empty()) mode = r["mode"].get<std::string>();
    else if (r["mode"] != mode)
      throw FerryError(ExitCode::Usage, fmt::format("{} is of mode {}, the reports before it of mode {}: they are not parts "
                                                    "of one task",
                                                    name, r["mode"].get<std::string>(), mode));
    nlohmann::json part = r;
    // A report of one server (no shards) becomes a shard of the merged one, with its offsets.
    if (!part.contains("shards")) {
      nlohmann::json shard = r;
      shard["shard"] = r.value("source", name);
      part["shards"] = nlohmann::json::array({shard});
    }
    if (i == 0) {
      out = part;
      for (const auto& k : kPerSource) out.erase(k);
    } else {
      merge_into(out, part);
    }
  }
  out["merged_from"] = names;
  return out;
}

}  // namespace ferry
