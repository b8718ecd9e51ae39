// `ferry migrate`: wires the command line to the engine's copy paths.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace ferry::cli {

// Registers the subcommand; `run` is set to the function main calls after a successful parse.
void add_migrate_command(CLI::App& app, std::function<int()>& run);

}  // namespace ferry::cli
