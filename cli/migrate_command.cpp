#include "migrate_command.h"

#include "task/run_task.h"
#include "task_options.h"

#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>

namespace ferry::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop = true; }

int run_migrate(const TaskConfig& config) {
  apply_logging(config);
  std::unique_ptr<TerminalProgress> progress;
  if (config.progress == "always" || (config.progress == "auto" && TerminalProgress::stderr_is_tty()))
    progress = std::make_unique<TerminalProgress>();
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  TaskResult result = run_task(config, TaskHooks{&g_stop, progress.get()});
  if (result.ran) std::cout << result.summary_text() << std::flush;
  return result.exit_code;
}

}  // namespace

void add_migrate_command(CLI::App& app, std::function<int()>& run) {
  auto flags = std::make_shared<TaskFlags>();
  auto* cmd = app.add_subcommand(
      "migrate",
      "Copy every key of a source server to a target, after the checks of `ferry precheck`.\n"
      "--mode scan: SCAN + DUMP/RESTORE with absolute expiries (PEXPIRETIME + RESTORE ABSTTL). The source stays\n"
      "online, but writes made to it while the scan runs may or may not be copied: stop writes, or use\n"
      "--mode sync for a live cutover.\n"
      "--mode snapshot|sync: as a replica (PSYNC), the snapshot, then (sync) every write until stopped.\n"
      "--mode rdb: import the RDB file given with --rdb.\n"
      "--mode aof: import the AOF given with --aof (a file, an appendonly directory or its manifest), checked whole first.\n"
      "Every option can also come from a TOML task file (--config FILE, see `ferry config example`).");
  flags->add_to(*cmd);
  cmd->callback([&run, flags] {
    run = [flags] { return run_migrate(flags->resolve()); };
  });
}

}  // namespace ferry::cli
