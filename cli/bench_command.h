// `ferry bench`: ferry against Redis's own replication, measured in one run (bench/bench_runner.h).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace ferry::cli {

void add_bench_command(CLI::App& app, std::function<int()>& run);

}  // namespace ferry::cli
