#include "precheck_command.h"

#include "precheck/precheck.h"
#include "task_options.h"

#include <fmt/format.h>

#include <iostream>
#include <memory>

namespace ferry::cli {
namespace {

struct PrecheckCliOptions {
  TaskOptions task;
  bool json = false;
};

int run(PrecheckCliOptions& o) {
  o.task.log.apply();
  Endpoint target = o.task.target_endpoint();
  std::optional<Endpoint> source;
  if (o.task.mode != "rdb") source = o.task.source_endpoint();
  PrecheckReport report = run_precheck(source ? &*source : nullptr, target, o.task.precheck_options());
  if (o.json) std::cout << report.to_json().dump(2) << "\n";
  else std::cout << report.to_table();
  return report.exit_code();
}

}  // namespace

void add_precheck_command(CLI::App& app, std::function<int()>& run_fn) {
  auto o = std::make_shared<PrecheckCliOptions>();
  auto* cmd = app.add_subcommand(
      "precheck",
      "Check a migration before it starts: takes the options of `ferry migrate` (or --config) and runs the named "
      "checks (connections, permissions, PSYNC, memory, eviction policy, existing keys, versions, unsupported data, "
      "modules, output buffer, backlog, DBs, same server, cluster, big keys; the RDB file in mode rdb). Writes "
      "nothing. Exit 0 all pass, 1 a check failed, 2 warnings only, 4 a server cannot be reached, 5 the RDB file "
      "cannot be read");
  o->task.add_to(*cmd);
  cmd->add_flag("--json", o->json, "Print {\"status\", \"checks\": [{name, status, found, fix}]} as JSON");
  cmd->callback([&run_fn, o, cmd] {
    run_fn = [o, cmd] {
      o->task.finish(*cmd);
      return run(*o);
    };
  });
}

}  // namespace ferry::cli
