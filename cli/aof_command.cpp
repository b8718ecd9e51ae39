#include "aof_command.h"

#include "common_options.h"
#include "task/aof_file_check.h"

#include <iostream>
#include <memory>

namespace ferry::cli {
namespace {

struct AofInspectOptions {
  LogFlags log;
  std::string path;
  bool json = false;
  long long until = 0;
};

int run_aof_inspect(const AofInspectOptions& o) {
  o.log.apply();
  AofCheckOptions check;
  if (o.until) check.until = o.until;
  // A file redis-server would refuse exits 5 through main, naming file and offset.
  AofFacts facts = check_aof(aof::resolve_aof_path(o.path), check);
  if (o.json) std::cout << facts.to_json().dump(2) << "\n";
  else std::cout << facts.to_text();
  return 0;
}

}  // namespace

void add_aof_command(CLI::App& app, std::function<int()>& run) {
  auto* aof = app.add_subcommand("aof", "Work with AOF files");
  aof->require_subcommand(1);
  auto o = std::make_shared<AofInspectOptions>();
  auto* inspect = aof->add_subcommand(
      "inspect", "Describe an AOF: its files (type, seq, size), the base's format, commands per name, DBs, first and "
                 "last #TS: timestamps, and any truncation redis-server would drop. Reads every file whole; writes "
                 "nothing; exits 5 for a file redis-server would refuse to load");
  inspect->add_option("path", o->path, "An AOF file, an appendonly directory (appenddirname) or its manifest")->required();
  inspect->add_flag("--json", o->json, "Print JSON instead of text");
  inspect->add_option("--aof-until", o->until, "Show where --aof-until UNIX_SECONDS would stop an import");
  o->log.add_to(*inspect);
  inspect->callback([&run, o] { run = [o] { return run_aof_inspect(*o); }; });
}

}  // namespace ferry::cli
