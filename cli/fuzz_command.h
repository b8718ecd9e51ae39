// `ferry fuzz applier`: the replication applier's properties (fuzz/applier), for the nightly run
// and for anyone checking a change to the applier.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace ferry::cli {

void add_fuzz_command(CLI::App& app, std::function<int()>& run);

}  // namespace ferry::cli
