#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace ferry::cli {

// ferry matrix: migrations across server versions in every mode, as a table.
void add_matrix_command(CLI::App& app, std::function<int()>& run);

}  // namespace ferry::cli
