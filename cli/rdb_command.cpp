#include "rdb_command.h"

#include "common_options.h"
#include "io/byte_source.h"
#include "rdb/rdb_inspector.h"

#include <fmt/format.h>

#include <iostream>
#include <memory>

namespace ferry::cli {
namespace {

struct RdbInspectOptions {
  LogFlags log;
  std::string file;
  bool json = false;
  size_t top = 10;
};

int run_rdb_inspect(const RdbInspectOptions& o) {
  o.log.apply();
  io::FileSource source(o.file);
  rdb::RdbInspector inspector(o.top);
  rdb::RdbParser parser(source, inspector);
  parser.parse();  // an RdbError exits 5 through main
  if (o.json) std::cout << inspector.to_json().dump(2) << "\n";
  else std::cout << inspector.to_text();
  return 0;
}

}  // namespace

void add_rdb_command(CLI::App& app, std::function<int()>& run) {
  auto* rdb = app.add_subcommand("rdb", "Work with RDB files");
  rdb->require_subcommand(1);
  auto o = std::make_shared<RdbInspectOptions>();
  auto* inspect = rdb->add_subcommand(
      "inspect", "Describe an RDB file: version, aux fields, keys per DB and type, expiries, biggest keys, functions, "
                 "modules. Reads the whole file (and checks its checksum); writes nothing");
  inspect->add_option("file", o->file, "The RDB file")->required();
  inspect->add_flag("--json", o->json, "Print JSON instead of text");
  inspect->add_option("--top", o->top, "How many of the biggest keys to list")->capture_default_str();
  o->log.add_to(*inspect);
  inspect->callback([&run, o] { run = [o] { return run_rdb_inspect(*o); }; });
}

}  // namespace ferry::cli
