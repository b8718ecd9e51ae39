#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace ferry::cli {

// `ferry status --metrics URL`: a running task's /status, as a person reads it.
void add_status_command(CLI::App& app, std::function<int()>& run);

}  // namespace ferry::cli
