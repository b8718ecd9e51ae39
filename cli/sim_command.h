// `ferry sim`: the simulator's building blocks by hand: servers (topologies), the fault proxy, a
// seeded write load, and a quick mixed dataset.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace ferry::cli {

void add_sim_command(CLI::App& app, std::function<int()>& run);

}  // namespace ferry::cli
