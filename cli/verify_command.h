// `ferry verify`: the consistency validator, wired to the command line.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace ferry::cli {

void add_verify_command(CLI::App& app, std::function<int()>& run);

}  // namespace ferry::cli
