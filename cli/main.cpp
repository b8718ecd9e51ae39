// ferry's entry point: parses the command line and hands each subcommand to the library.
#include "bench_command.h"
#include "config_command.h"
#include "core/error.h"
#include "core/log.h"
#include "core/version.h"
#include "demo_command.h"
#include "matrix_command.h"
#include "migrate_command.h"
#include "precheck_command.h"
#include "rdb_command.h"
#include "aof_command.h"
#include "report_command.h"
#include "fuzz_command.h"
#include "scenario_command.h"
#include "sim_command.h"
#include "status_command.h"
#include "verify_command.h"
#include "common_options.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <csignal>
#include <functional>

int main(int argc, char** argv) {
  using ferry::ExitCode;
  CLI::App app{"ferry: migrate a live Redis dataset to another Redis-compatible server, and prove the copy is right"};
  app.footer(ferry::exit_code_table());
  app.require_subcommand(1);
  app.set_version_flag("--version", ferry::kVersion);
  std::signal(SIGPIPE, SIG_IGN);

  std::function<int()> run;
  ferry::cli::add_migrate_command(app, run);
  ferry::cli::add_demo_command(app, run);
  ferry::cli::add_rdb_command(app, run);
  ferry::cli::add_aof_command(app, run);
  ferry::cli::add_precheck_command(app, run);
  ferry::cli::add_config_command(app, run);
  ferry::cli::add_verify_command(app, run);
  ferry::cli::add_report_command(app, run);
  ferry::cli::add_status_command(app, run);
  ferry::cli::add_sim_command(app, run);
  ferry::cli::add_scenario_command(app, run);
  ferry::cli::add_fuzz_command(app, run);
  ferry::cli::add_bench_command(app, run);
  ferry::cli::add_matrix_command(app, run);
  ferry::cli::add_examples(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    fmt::print(stderr, "ferry: error: {}\n", e.what());
    for (const auto& hint : ferry::cli::did_you_mean(app, argc, argv)) fmt::print(stderr, "ferry: {}\n", hint);
    fmt::print(stderr, "Run `{} --help` for the options.\n", ferry::cli::command_path(app));
    return static_cast<int>(ExitCode::Usage);
  }
  try {
    return run ? run() : static_cast<int>(ExitCode::Usage);
  } catch (const ferry::FerryError& e) {
    ferry::log::error("{}", e.what());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    ferry::log::error("{}", e.what());
    return static_cast<int>(ExitCode::Failed);
  }
}
