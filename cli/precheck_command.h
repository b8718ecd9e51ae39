// `ferry precheck`: the named checks, before a byte moves.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace ferry::cli {

void add_precheck_command(CLI::App& app, std::function<int()>& run);

}  // namespace ferry::cli
