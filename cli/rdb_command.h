// `ferry rdb inspect FILE [--json]`: describes an RDB file without writing anything.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace ferry::cli {

void add_rdb_command(CLI::App& app, std::function<int()>& run);

}  // namespace ferry::cli
