// The command line contract: exit codes for parse errors, help text, and the demo.
#include "support.h"

#include <signal.h>

#include <fstream>

using ferry::test::run_ferry;


TEST_CASE("parse errors and bad option values are exit 3", "[cli]") {
  CHECK(run_ferry({}).exit_code == 3);
  CHECK(run_ferry({"frobnicate"}).exit_code == 3);
  CHECK(run_ferry({"migrate"}).exit_code == 3);  // --source and --target are required
  CHECK(run_ferry({"migrate", "--source", "redis://h:1", "--target", "redis://h:2", "--mode", "teleport"}).exit_code == 3);
  CHECK(run_ferry({"migrate", "--source", "redis://h:1", "--target", "redis://h:2", "--db", "256"}).exit_code == 3);
  CHECK(run_ferry({"migrate", "--source", "redis://h:1", "--target", "redis://h:2", "--on-conflict", "merge"}).exit_code == 3);
  auto bad_uri = run_ferry({"migrate", "--source", "http://h:1", "--target", "redis://h:2"});
  CHECK(bad_uri.exit_code == 3);
  CHECK(bad_uri.err.find("source URI") != std::string::npos);
  CHECK(run_ferry({"migrate", "--source", "redis://h:1", "--target", "redis://h:2", "--log-level", "loud"}).exit_code == 3);
}

TEST_CASE("help shows the exit code table and exits 0", "[cli]") {
  auto r = run_ferry({"--help"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("4  cannot connect or authenticate") != std::string::npos);
  auto m = run_ferry({"migrate", "--help"});
  CHECK(m.exit_code == 0);
  CHECK(m.out.find("--on-conflict") != std::string::npos);
  CHECK(m.out.find("may or may not be copied") != std::string::npos);
  CHECK(m.out.find("5  corrupt or unreadable input file") != std::string::npos);
  CHECK(m.out.find("target-memory") != std::string::npos);  // --skip-check lists the check names
  // Every subcommand's help ends with examples.
  for (std::vector<std::string> sub : std::vector<std::vector<std::string>>{
           {"migrate"}, {"precheck"}, {"verify"}, {"demo"}, {"rdb", "inspect"}, {"config", "check"}, {"sim", "load"},
           {"scenario", "run"}, {"fuzz", "applier"}, {"bench"}, {"matrix"}}) {
    sub.push_back("--help");
    auto h = run_ferry(sub);
    INFO(sub[0]);
    CHECK(h.exit_code == 0);
    CHECK(h.out.find("Examples:\n  ferry ") != std::string::npos);
  }
}

TEST_CASE("a mistyped option or subcommand says ferry: error and what was meant", "[cli]") {
  auto typo = run_ferry({"migrate", "--sorce", "redis://h:1", "--target", "redis://h:2"});
  CHECK(typo.exit_code == 3);
  CHECK(typo.err.rfind("ferry: error: ", 0) == 0);
  CHECK_THAT(typo.err, Catch::Contains("did you mean --source?"));
  auto sub = run_ferry({"migrat"});
  CHECK(sub.exit_code == 3);
  CHECK_THAT(sub.err, Catch::Contains("did you mean migrate?"));
}

TEST_CASE("the demo runs its own servers, migrates, verifies and leaves no server behind", "[cli][demo]") {
  auto r = run_ferry({"demo", "--keys-per-db", "500", "--seed", "3"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("PASS") != std::string::npos);
  CHECK(r.out.find("copied") != std::string::npos);
  // The pids it printed are gone.
  auto pos = r.out.find("(pid ");
  REQUIRE(pos != std::string::npos);
  int pid = std::atoi(r.out.c_str() + pos + 5);
  CHECK(::kill(pid, 0) != 0);
}

TEST_CASE("a log file gets timestamps and never a password", "[cli]") {
  ferry::sim::RedisServerOptions o;
  o.requirepass = "hunter2-secret";
  ferry::sim::RedisServer src(o), dst;
  ferry::test::connect(src)->checked({"SET", "a", "1"});
  std::string log = dst.dir() + "/ferry.log";
  auto r = run_ferry({"migrate", "--source", src.uri("", "hunter2-secret"), "--target", dst.uri(), "--log-file", log,
                      "--log-level", "debug"});
  REQUIRE(r.exit_code == 0);
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("connected to source 127.0.0.1:" + std::to_string(src.port())) != std::string::npos);
  CHECK(text.find("hunter2") == std::string::npos);
  CHECK(r.err.find("hunter2") == std::string::npos);
  CHECK(r.out.find("hunter2") == std::string::npos);
}
