// TOML task files: `ferry config check` finds every kind of mistake with its line and column,
// `ferry config example` is a valid file naming every key, a task file runs the same migration as
// the equivalent flags, and flags override the file.
#include "support.h"

#include <toml++/toml.h>

#include <fstream>
#include <set>

using namespace ferry;
using ferry::sim::RedisServer;
using ferry::test::run_ferry;

namespace {

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("config example is a valid task file naming every key", "[config]") {
  auto example = run_ferry({"config", "example"});
  REQUIRE(example.exit_code == 0);
  RedisServer scratch;  // only for a directory
  std::string path = write_file(scratch.dir(), "example.toml", example.out);
  auto check = run_ferry({"config", "check", path});
  CHECK(check.exit_code == 0);
  CHECK(check.out.find(": ok") != std::string::npos);

  // The keys a task file may hold: a contract, like the flags they mirror.
  const std::set<std::string> expected{
      "mode", "task-id", "rdb", "aof", "aof-until", "accept-warnings", "skip-check",
      "source.uri", "source.password-file", "source.read", "source.shards", "target.uri", "target.password-file",
      "source.tls", "source.tls-ca", "source.tls-cert", "source.tls-key", "source.tls-server-name", "source.tls-insecure",
      "target.tls", "target.tls-ca", "target.tls-cert", "target.tls-key", "target.tls-server-name", "target.tls-insecure",
      "select.db", "select.db-map", "select.include", "select.exclude",
      "write.on-conflict", "write.ttl-extend", "write.write-mode", "write.big-key-threshold",
      "write.skip-unsupported", "write.scan-count",
      "sync.until-caught-up", "sync.block-flush", "sync.heartbeat", "sync.publish", "sync.max-ops", "sync.max-bytes",
      "sync.cross-slot", "sync.retry-connection", "sync.retry-other", "sync.state", "sync.spool-dir", "sync.unsafe-resync-append",
      "connection.connect-timeout", "connection.read-timeout", "connection.pipeline-commands",
      "connection.pipeline-bytes", "output.report", "output.log-file", "output.log-level", "output.progress",
      "output.log-status-every", "output.metrics-listen", "output.alert-lag-ms", "output.alert-for", "output.alert-exec",
      "output.alert-timeout", "transform.script", "transform.budget-ms"};
  std::set<std::string> found;
  toml::table t = toml::parse(example.out);
  for (const auto& [k, v] : t) {
    if (const auto* section = v.as_table())
      for (const auto& [sub, value] : *section) found.insert(std::string(k.str()) + "." + std::string(sub.str()));
    else
      found.insert(std::string(k.str()));
  }
  CHECK(found == expected);
  // The password keys are documented as comments (a real password does not belong in an example).
  CHECK(example.out.find("# password = ") != std::string::npos);
}

TEST_CASE("config check reports every kind of mistake with line and column, exit 3", "[config]") {
  RedisServer scratch;
  std::string bad = write_file(scratch.dir(), "bad.toml",
                               "mode = \"scann\"\n"                  // 1: a bad value
                               "colour = 1\n"                        // 2: an unknown top-level key
                               "[source]\n"                          // 3
                               "uri = 5\n"                           // 4: a wrong type
                               "pasword = \"x\"\n"                   // 5: an unknown key in a section
                               "[select]\n"                          // 6
                               "db = [0, 300]\n"                     // 7: out of range
                               "db-map = \"0:1,2:1\"\n"              // 8: two DBs into one
                               "include = \"user:*\"\n"              // 9: a string, not an array
                               "exclude = [\"re:(\"]\n"              // 10: a regex that does not compile
                               "[write]\n"                           // 11
                               "ttl-extend = -5\n"                   // 12: negative
                               "big-key-threshold = \"4Q\"\n"        // 13: a bad size
                               "[sync]\n"                            // 14
                               "heartbeat = \"yes\"\n"               // 15: not a boolean
                               "[bogus]\n"                           // 16: an unknown section
                               "x = 1\n");
  auto r = run_ferry({"config", "check", bad});
  CHECK(r.exit_code == 3);
  for (const char* where : {":1:8: 'mode'", ":2:1: unknown key 'colour'", ":4:7: 'source.uri' must be a string",
                            ":5:1: unknown key 'pasword' in [source]", ":7:6: 'select.db'", ":8:10: 'select.db-map'",
                            ":9:11: 'select.include' must be an array of strings", ":10:11: 'select.exclude'",
                            ":12:14: 'write.ttl-extend'", ":13:21: 'write.big-key-threshold'",
                            ":15:13: 'sync.heartbeat' must be true or false", ":16:2: unknown section [bogus]",
                            "12 problem(s)"}) {
    INFO(where);
    CHECK(r.err.find(where) != std::string::npos);
  }

  std::string syntax = write_file(scratch.dir(), "syntax.toml", "mode = \"scan\n");
  auto s = run_ferry({"config", "check", syntax});
  CHECK(s.exit_code == 3);
  CHECK(s.err.find("syntax.toml:1:") != std::string::npos);

  auto missing = run_ferry({"config", "check", scratch.dir() + "/none.toml"});
  CHECK(missing.exit_code == 3);
  CHECK(missing.err.find("cannot be read") != std::string::npos);
  auto dir = run_ferry({"config", "check", scratch.dir()});
  CHECK(dir.exit_code == 3);

  // migrate --config refuses the same file, before connecting anywhere.
  auto m = run_ferry({"migrate", "--config", bad});
  CHECK(m.exit_code == 3);
  CHECK(m.err.find("bad.toml:12:14") != std::string::npos);
}

TEST_CASE("a task file runs the same migration as the equivalent flags; flags win over the file", "[config]") {
  sim::RedisServerOptions locked;
  locked.requirepass = "file-secret";
  RedisServer src(locked), by_flags, by_file;
  auto s = test::connect(src);
  for (int db : {0, 1}) {
    s->select(db);
    for (int i = 0; i < 50; ++i) {
      s->checked({"SET", "user:" + std::to_string(i), "v", "PX", std::to_string(600000 + i)});
      s->checked({"RPUSH", "other:" + std::to_string(i), "a", "b"});
    }
  }
  auto flags = run_ferry({"migrate", "--source", "redis://127.0.0.1:" + std::to_string(src.port()), "--target",
                          by_flags.uri(), "--db", "0,1", "--db-map", "0:4,1:5", "--include", "user:*", "--ttl-extend",
                          "60", "--write-mode", "commands", "--report", by_flags.dir() + "/r.json"},
                         {{"FERRY_SOURCE_PASSWORD", "file-secret"}});
  REQUIRE(flags.exit_code == 0);

  std::string task = write_file(by_file.dir(), "task.toml",
                                "mode = \"scan\"\n"
                                "[source]\n"
                                "uri = \"redis://127.0.0.1:" + std::to_string(src.port()) + "\"\n"
                                "password = \"file-secret\"\n"
                                "[target]\n"
                                "uri = \"" + by_file.uri() + "\"\n"
                                "[select]\n"
                                "db = [0, 1]\n"
                                "db-map = \"0:4,1:5\"\n"
                                "include = [\"other:*\"]\n"  // overridden below by --include
                                "[write]\n"
                                "ttl-extend = 60\n"
                                "write-mode = \"commands\"\n"
                                "[output]\n"
                                "report = \"" + by_file.dir() + "/r.json\"\n");
  auto file = run_ferry({"migrate", "--config", task, "--include", "user:*"});
  REQUIRE(file.exit_code == 0);
  CHECK(file.out.find("file-secret") == std::string::npos);
  CHECK(file.err.find("file-secret") == std::string::npos);

  auto a = test::connect(by_flags), b = test::connect(by_file);
  for (int db : {4, 5}) {
    a->select(db);
    b->select(db);
    CHECK(b->checked({"DBSIZE"}).integer == 50);
  }
  a->select(0);
  b->select(0);
  test::require_identical(*a, *b);  // every key, value and absolute expiry
  auto ja = test::read_json(by_flags.dir() + "/r.json"), jb = test::read_json(by_file.dir() + "/r.json");
  CHECK(ja["copied"] == jb["copied"]);
  CHECK(ja["filtered"] == jb["filtered"]);
  CHECK(jb["key_filter"] == "include 'user:*'");
}
