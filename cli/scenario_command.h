// `ferry scenario run`: runs scenario files and writes their reports.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace ferry::cli {

void add_scenario_command(CLI::App& app, std::function<int()>& run);

}  // namespace ferry::cli
