// `ferry config check FILE` and `ferry config example`: task files without running a task.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace ferry::cli {

void add_config_command(CLI::App& app, std::function<int()>& run);

}  // namespace ferry::cli
