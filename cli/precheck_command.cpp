#include "precheck_command.h"

#include "precheck/precheck.h"
#include "task/run_task.h"
#include "task_options.h"

#include <iostream>
#include <memory>

namespace ferry::cli {
namespace {

int precheck_main(const TaskConfig& config, bool json) {
  apply_logging(config);
  std::optional<Endpoint> source;
  if (!config.reads_file()) source = config.source_endpoint();
  PrecheckReport report = run_precheck(source ? &*source : nullptr, config.target_endpoint(), config.precheck_options());
  if (json) std::cout << report.to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  else std::cout << report.to_table();
  return report.exit_code();
}

}  // namespace

void add_precheck_command(CLI::App& app, std::function<int()>& run_fn) {
  auto flags = std::make_shared<TaskFlags>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
      "precheck",
      "Check a migration before it starts: takes the options of `ferry migrate` (or --config) and runs the named "
      "checks (connections, permissions, PSYNC, memory, eviction policy, existing keys, versions, unsupported data, "
      "modules, output buffer, backlog, DBs, same server, cluster, big keys; the RDB file in mode rdb). Writes "
      "nothing. Exit 0 all pass, 1 a check failed, 2 warnings only, 4 a server cannot be reached, 5 the RDB file "
      "cannot be read");
  flags->add_to(*cmd);
  cmd->add_flag("--json", *json, "Print {\"status\", \"checks\": [{name, status, found, fix}]} as JSON");
  cmd->callback([&run_fn, flags, json] {
    run_fn = [flags, json] { return precheck_main(flags->resolve(), *json); };
  });
}

}  // namespace ferry::cli
