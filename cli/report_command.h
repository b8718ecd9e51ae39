#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace ferry::cli {

void add_report_command(CLI::App& app, std::function<int()>& run);

}  // namespace ferry::cli
