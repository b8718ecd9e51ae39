#include "precheck_command.h"

#include "common_options.h"
#include "precheck/precheck.h"

#include <fmt/format.h>

#include <iostream>
#include <memory>

namespace ferry::cli {
namespace {

struct PrecheckCliOptions {
  ConnectionOptions conn;
  LogOptions log;
  std::string mode = "scan";
  std::vector<int> dbs;
  std::string on_conflict = "block";
  bool json = false;
};

int run(PrecheckCliOptions& o) {
  o.log.apply();
  PrecheckOptions options;
  options.mode = o.mode;
  options.dbs = o.dbs;
  options.replace = o.on_conflict == "replace";
  options.timeouts = o.conn.timeouts();
  Endpoint target = o.conn.target_endpoint();
  std::optional<Endpoint> source;
  if (o.mode != "rdb") {
    if (o.conn.source.uri.empty()) throw FerryError(ExitCode::Usage, fmt::format("--mode {} needs --source URI", o.mode));
    source = o.conn.source_endpoint();
    if (source->db && options.dbs.empty()) options.dbs = {*source->db};
  }
  PrecheckReport report = run_precheck(source ? &*source : nullptr, target, options);
  if (o.json) std::cout << report.to_json().dump(2) << "\n";
  else std::cout << report.to_table();
  return report.exit_code();
}

}  // namespace

void add_precheck_command(CLI::App& app, std::function<int()>& run_fn) {
  auto o = std::make_shared<PrecheckCliOptions>();
  auto* cmd = app.add_subcommand(
      "precheck",
      "Check a migration before it starts: connections, permissions, PSYNC, memory, eviction policy, existing keys, "
      "versions, unsupported data, modules, output buffer, backlog, DBs, same server, cluster, big keys. Writes "
      "nothing. Exit 0 all pass, 1 a check failed, 2 warnings only, 4 a server cannot be reached");
  o->conn.add_to(*cmd, true, false);
  o->log.add_to(*cmd);
  cmd->add_option("--mode", o->mode, "The migration mode to check for: scan, snapshot, sync, rdb")
      ->capture_default_str()->check(CLI::IsMember({"scan", "snapshot", "sync", "rdb"}));
  cmd->add_option("--db", o->dbs, "DBs to migrate, e.g. 0,5 (default: every non-empty DB of the source)")
      ->delimiter(',')->check(CLI::Range(0, 255));
  cmd->add_option("--on-conflict", o->on_conflict, "block: existing keys fail the check; replace: they warn")
      ->capture_default_str()->check(CLI::IsMember({"block", "replace"}));
  cmd->add_flag("--json", o->json, "Print {\"status\", \"checks\": [{name, status, found, fix}]} as JSON");
  cmd->callback([&run_fn, o] { run_fn = [o] { return run(*o); }; });
}

}  // namespace ferry::cli
