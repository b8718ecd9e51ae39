#include "scenario/scenario_result.h"

namespace ferry::sim {

nlohmann::json ScenarioResult::to_json() const {
  nlohmann::json j{{"name", name},         {"file", file},       {"description", description}, {"seed", seed},
                   {"passed", passed},     {"failures", failures}, {"repro", repro}, {"ferry_version", ferry_version},           {"ferry_exit", ferry_exit},
                   {"seconds", seconds},   {"out_dir", out_dir}, {"task_report", task_report}, {"verify", verify_report},
                   {"load", load}};
  if (!skipped.empty()) j["skipped"] = skipped;
  auto& s = j["samples"] = nlohmann::json::array();
  for (const auto& x : samples)
    s.push_back({{"t", x.t}, {"ops_per_sec", x.ops_per_sec}, {"lag_bytes", x.lag_bytes}, {"lag_ms", x.lag_ms},
                 {"target_memory", x.target_memory}});
  auto& t = j["timeline"] = nlohmann::json::array();
  for (const auto& e : timeline) t.push_back({{"at_ms", e.at_ms}, {"fault", e.fault}, {"action", e.action}, {"value", e.value}});
  return j;
}

}  // namespace ferry::sim
