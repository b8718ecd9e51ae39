// `ferry demo`: the main job on an embedded default. Starts its own source and target
// redis-server on loopback, fills the source with a mixed dataset, migrates it by scan, checks the
// copy key by key and prints a summary.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace ferry::cli {

void add_demo_command(CLI::App& app, std::function<int()>& run);

}  // namespace ferry::cli
