// `ferry report merge`: the task reports (`ferry migrate --report`) of one migration split over
// several processes (--shards), combined into one: counts added up, the longest time and lag,
// lists and shards put together, complete only when every part is.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace ferry {

// Throws FerryError(Usage) when the reports are of different modes, or one is not a task report
// (`names` say which, in the message).
nlohmann::json merge_reports(const std::vector<nlohmann::json>& reports, const std::vector<std::string>& names);

}  // namespace ferry
