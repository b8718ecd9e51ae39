// `ferry scenario run scenarios/smoke`: every smoke scenario meets its expectations, each known
// divergence case shows its cause and its twin shows ferry avoiding it, and the run writes
// run.json, JUnit XML and the offline HTML report. A scenario whose expectations fail exits 1 with
// the command that reproduces it; a malformed scenario is a usage error naming line and column.
#include "support.h"

#include <filesystem>
#include <fstream>
#include <map>

using namespace ferry;
using ferry::test::run_ferry;

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string temp_dir() {
  char tmpl[] = "/tmp/ferry-scenario-test-XXXXXX";
  return ::mkdtemp(tmpl);
}

}  // namespace

TEST_CASE("the smoke scenarios pass and write their reports", "[scenario]") {
  std::string dir = temp_dir();
  auto r = run_ferry({"scenario", "run", std::string(FERRY_SOURCE_DIR) + "/scenarios/smoke", "--jobs", "2", "--report-dir", dir,
                      "--junit", dir + "/ci.xml"});
  INFO(r.out);
  CHECK(r.exit_code == 0);
  auto run = test::read_json(dir + "/run.json");
  REQUIRE(run["scenarios"].size() >= 7);
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& s : run["scenarios"]) {
    INFO(s["name"].get<std::string>() << ": " << s["failures"].dump());
    CHECK(s["passed"] == true);
    CHECK(s["seed"].is_number());
    by_name[s["name"]] = s;
  }
  auto cause = [&](const std::string& scenario, const std::string& c) {
    return by_name.at(scenario)["verify"]["summary"]["by_cause"][c].get<long long>();
  };
  // Each known divergence case shows its cause; its twin shows ferry avoiding it.
  CHECK(cause("list-duplicates-unsafe", "list-duplicates") > 0);
  CHECK(cause("list-duplicates-twin", "list-duplicates") == 0);
  CHECK(cause("deletes-during-outage-unsafe", "stale-extra") > 0);
  CHECK(cause("deletes-during-outage-twin", "stale-extra") == 0);
  CHECK(by_name.at("expiring-keys")["task_report"]["skipped_expired"].get<long long>() > 0);
  CHECK(by_name.at("oom-noeviction")["ferry_exit"] == 1);
  CHECK(by_name.at("sync-under-faults")["verify"]["summary"]["unexplained"] == 0);
  for (const auto& s : run["scenarios"])
    if (s["verify"].is_object()) CHECK(s["verify"]["summary"]["unexplained"] == 0);

  std::string junit = read(dir + "/ci.xml");
  CHECK(junit.find("<testsuite name=\"ferry scenarios\"") != std::string::npos);
  CHECK(junit.find("failures=\"0\"") != std::string::npos);
  CHECK(read(dir + "/junit.xml") == junit);
  std::string html = read(dir + "/report.html");
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("list-duplicates-unsafe") != std::string::npos);
  CHECK(html.find("http") == html.find("http://www.w3.org/2000/svg"));  // nothing fetched from the network
}

TEST_CASE("a scenario that misses its expectations exits 1 and names how to reproduce it", "[scenario]") {
  std::string dir = temp_dir();
  std::ofstream(dir + "/wrong.toml") << R"(name = "wrong-expectation"
seed = 9
[dataset]
keys = 200
[task]
mode = "scan"
[validate]
rounds = 1
[expect]
must = ["evicted"]
)";
  auto r = run_ferry({"scenario", "run", dir + "/wrong.toml", "--report-dir", dir + "/out"});
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("FAIL wrong-expectation (seed 9") != std::string::npos);
  CHECK(r.out.find("expected divergences caused by 'evicted', found none") != std::string::npos);
  CHECK(r.out.find("scenario run " + dir + "/wrong.toml --seed 9") != std::string::npos);
  CHECK(std::filesystem::exists(dir + "/out/wrong-expectation-seed9/servers/target.log"));  // logs kept on failure
  auto with_seed = run_ferry({"scenario", "run", dir + "/wrong.toml", "--seed", "77", "--report-dir", dir + "/out2"});
  CHECK(with_seed.out.find("(seed 77") != std::string::npos);
}

TEST_CASE("a malformed scenario is a usage error naming where", "[scenario]") {
  std::string dir = temp_dir();
  std::ofstream(dir + "/bad.toml") << "name = \"bad\"\n[workload]\nrate = 10\nspeed = 3\n";
  auto r = run_ferry({"scenario", "run", dir + "/bad.toml"});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("bad.toml:4:1: unknown key 'speed' in [workload]") != std::string::npos);
  std::ofstream(dir + "/bad2.toml") << "[[timeline]]\nat = 10\naction = \"explode\"\n";
  auto r2 = run_ferry({"scenario", "run", dir + "/bad2.toml"});
  CHECK(r2.exit_code == 3);
  CHECK(r2.err.find("unknown action 'explode'") != std::string::npos);
}
