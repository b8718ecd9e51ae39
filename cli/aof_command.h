// `ferry aof inspect PATH [--json]`: describes an AOF (a file, an appendonly directory or its
// manifest) without writing anything.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace ferry::cli {

void add_aof_command(CLI::App& app, std::function<int()>& run);

}  // namespace ferry::cli
