// The replica task as users meet it: credentials in the cloud console form on the replication link,
// a stop asked for while the source is away, --skip-unsupported on the stream's refused RESTOREs,
// and a lag figure that says what a write's trip takes.
#include "support.h"
#include "workload/command_workload.h"

#include <fmt/format.h>

#include <atomic>
#include <fstream>
#include <thread>

using namespace ferry;
using ferry::sim::RedisServer;
using ferry::sim::RedisServerOptions;
using ferry::test::BackgroundFerry;
using ferry::test::run_ferry;

namespace {

ComparisonOptions stream_comparison() {
  ComparisonOptions cmp;
  cmp.group_entries_read = false;  // replication cannot reproduce it (Redis' own replicas neither)
  return cmp;
}

}  // namespace

TEST_CASE("credentials as user:password reach the replication link: in the URI, a password file, the environment",
          "[repl][sync][auth]") {
  RedisServerOptions o;
  o.requirepass = "default-pw";  // the default user has another password: AUTH alice:alice-pw alone fails
  o.acl_users = {"alice on >alice-pw ~* &* +@all"};
  RedisServer src(o);
  auto s = test::connect(src);
  sim::CommandWorkload load(*s, 5);
  for (int i = 0; i < 3; ++i) load.round();
  const std::string bare = fmt::format("redis://127.0.0.1:{}", src.port());
  std::string password_file = src.dir() + "/pw";
  std::ofstream(password_file) << "alice:alice-pw\n";

  struct Form {
    const char* name;
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
  };
  std::vector<Form> forms{
      {"URI", {"--source", fmt::format("redis://:alice:alice-pw@127.0.0.1:{}", src.port())}, {}},
      {"password file", {"--source", bare, "--source-password-file", password_file}, {}},
      {"environment", {"--source", bare}, {{"FERRY_SOURCE_PASSWORD", "alice:alice-pw"}}},
  };
  for (const auto& form : forms) {
    INFO(form.name);
    RedisServer dst;
    std::vector<std::string> a{"migrate", "--mode", "sync", "--until-caught-up", "--no-heartbeat", "--target", dst.uri()};
    a.insert(a.end(), form.args.begin(), form.args.end());
    auto r = run_ferry(a, form.env);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find("alice-pw") == std::string::npos);
    CHECK(r.out.find("alice-pw") == std::string::npos);
    test::require_identical(*s, *test::connect(dst), stream_comparison());
  }
}

TEST_CASE("SIGTERM while the source is away stops within seconds, exit 0, and the state resumes", "[repl][sync][stop]") {
  auto src = std::make_unique<RedisServer>();
  RedisServer dst;
  auto s = test::connect(*src);
  sim::CommandWorkload load(*s, 8);
  for (int i = 0; i < 3; ++i) load.round();
  std::string state = dst.dir() + "/state.json", report = dst.dir() + "/r.json";
  BackgroundFerry ferry({"migrate", "--mode", "sync", "--source", src->uri(), "--target", dst.uri(), "--no-heartbeat",
                         "--state", state, "--report", report});
  test::wait_for_replica(*s, 30);
  auto d = test::connect(dst);
  REQUIRE(test::wait_until_equal(*s, *d, stream_comparison(), 20).equal());
  int port = src->port();
  s.reset();
  src.reset();  // the source goes away; ferry keeps retrying (--retry-connection: 12 hours)
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  REQUIRE(ferry.running());
  auto asked = std::chrono::steady_clock::now();
  auto r = ferry.stop();
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count();
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(took < 10);  // not the retry window
  auto j = test::read_json(report);
  CHECK(!j.contains("stopped_because"));

  // Back on the same port with its data: the saved state resumes by partial resync... or, the
  // source having restarted empty-handed of its replication history, a full resync done right.
  RedisServerOptions same;
  same.port = port;
  RedisServer again(same);
  auto s2 = test::connect(again);
  sim::CommandWorkload more(*s2, 9);
  for (int i = 0; i < 2; ++i) more.round();
  auto r2 = run_ferry({"migrate", "--mode", "sync", "--source", again.uri(), "--target", dst.uri(), "--no-heartbeat",
                       "--state", state, "--until-caught-up"});
  INFO(r2.err);
  REQUIRE(r2.exit_code == 0);
  test::require_identical(*s2, *d, stream_comparison());
}

TEST_CASE("a RESTORE in the stream whose data the target cannot hold is skipped with --skip-unsupported", "[repl][sync][versions]") {
  auto binary = test::other_server("redis-8.0");
  if (!binary) {
    WARN("skipped: redis-8.0 not fetched (run tools/fetch-servers)");
    return;
  }
  for (bool skip : {true, false}) {
    INFO((skip ? "with --skip-unsupported" : "without"));
    RedisServerOptions o;
    o.binary = *binary;
    RedisServer src(o), dst;  // 8.0's payloads are refused by 7.0; field expiry cannot be written to it
    auto s = test::connect(src);
    s->select(1);  // DB 1 is not migrated: the hash with field expiry is made there, then RESTOREd into DB 0
    s->checked({"HSET", "h", "f", "v", "g", "w"});
    s->checked({"HPEXPIRE", "h", "100000000", "FIELDS", "1", "f"});
    std::string dump = s->checked({"DUMP", "h"}).str;
    s->select(0);
    std::string report = dst.dir() + "/r.json";
    std::vector<std::string> a{"migrate", "--mode", "sync", "--source", src.uri(), "--target", dst.uri(), "--db", "0",
                               "--no-heartbeat", "--accept-warnings", "--report", report};
    if (skip) a.push_back("--skip-unsupported");
    BackgroundFerry ferry(a);
    test::wait_for_replica(*s, 30);
    s->checked({"RESTORE", "hcopy", "0", dump});
    s->checked({"SET", "after", "1"});
    auto d = test::connect(dst);
    for (int i = 0; i < 100 && d->checked({"EXISTS", "after"}).integer == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto r = ferry.stop();
    INFO(r.err);
    CHECK(d->checked({"EXISTS", "hcopy"}).integer == 0);  // never half written
    auto j = test::read_json(report);
    if (skip) {
      CHECK(r.exit_code == 0);
      REQUIRE(j["unsupported"].size() == 1);
      CHECK(j["unsupported"][0]["key"] == "hcopy");
    } else {
      CHECK(r.exit_code == 1);
      CHECK(j["failed"].get<long long>() >= 1);
    }
  }
}

TEST_CASE("the lag is the time a write takes to reach the target: under 50 ms when level", "[repl][sync][lag]") {
  RedisServer src, dst;
  auto s = test::connect(src);
  s->checked({"SET", "k", "v"});
  std::string report = dst.dir() + "/r.json";
  BackgroundFerry ferry({"migrate", "--mode", "sync", "--source", src.uri(), "--target", dst.uri(), "--report", report,
                         "--progress", "always", "--task-id", "lag"});
  test::wait_for_replica(*s, 30);
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));  // several heartbeats go round
  auto r = ferry.stop();
  REQUIRE(r.exit_code == 0);
  auto j = test::read_json(report);
  REQUIRE(j["lag_ms"].is_number());
  CHECK(j["lag_ms"].get<long long>() < 50);  // level: not the age of the last heartbeat (~1000 ms)
  CHECK_THAT(r.err, Catch::Contains("lag < 50 ms"));
  CHECK_THAT(r.out, Catch::Contains("< 50 ms"));
}

TEST_CASE("a target user without channel permissions: the precheck says so, --no-publish leaves PUBLISH out",
          "[repl][sync][acl]") {
  RedisServerOptions o;
  o.acl_users = {"u on >u-pw ~* +@all"};  // Redis 7: no channels (acl-pubsub-default resetchannels)
  RedisServer src, dst(o);
  auto s = test::connect(src);
  s->checked({"SET", "k", "v"});
  const std::string target = fmt::format("redis://u:u-pw@127.0.0.1:{}", dst.port());
  auto refused = run_ferry({"migrate", "--mode", "sync", "--until-caught-up", "--source", src.uri(), "--target", target});
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains("precheck target-permission"));
  CHECK_THAT(refused.err, Catch::Contains("allchannels"));
  CHECK_THAT(refused.err, Catch::Contains("--no-publish"));
  CHECK(refused.err.find("u-pw") == std::string::npos);

  std::string report = dst.dir() + "/r.json";
  BackgroundFerry ferry({"migrate", "--mode", "sync", "--source", src.uri(), "--target", target, "--no-publish",
                         "--no-heartbeat", "--report", report});
  test::wait_for_replica(*s, 30);  // it PUBLISHes once, and waits for ferry's acknowledgement
  for (int i = 0; i < 5; ++i) s->checked({"PUBLISH", "news", "hello"});
  s->checked({"SET", "after", "1"});
  auto d = test::connect(dst);
  REQUIRE(test::wait_until_equal(*s, *d, stream_comparison(), 20).equal());
  auto r = ferry.stop();
  INFO(r.err);
  CHECK(r.exit_code == 0);
  auto j = test::read_json(report);
  CHECK(j["stream"]["publish_dropped"].get<long long>() >= 5);
  CHECK(j["stream"]["errors"] == 0);
}

TEST_CASE("until-caught-up says at exit when the source still takes writes, with the rate", "[repl][sync][cutover]") {
  RedisServer src, dst;
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    auto w = test::connect(src);
    for (int i = 0; writing; ++i) {
      w->checked({"SET", "live:" + std::to_string(i % 500), std::string(100, 'x')});
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // ~50 writes/s: level now and then
    }
  });
  std::string report = dst.dir() + "/r.json";
  auto r = run_ferry({"migrate", "--mode", "sync", "--until-caught-up", "--source", src.uri(), "--target", dst.uri(),
                      "--report", report});
  writing = false;
  writer.join();
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("still takes writes"));
  auto j = test::read_json(report);
  CHECK(j["caught_up"] == true);
  CHECK(j["source_write_bytes_per_s"].get<long long>() > 1000);  // ~50 x ~150 bytes
  CHECK(j.contains("writes_continue"));

  // A quiet source: no such warning.
  RedisServer quiet_target;
  auto q = run_ferry({"migrate", "--mode", "sync", "--until-caught-up", "--source", src.uri(), "--target",
                      quiet_target.uri()});
  CHECK(q.exit_code == 0);
  CHECK(q.err.find("still takes writes") == std::string::npos);
}

// The progress line as a terminal shows it (stderr with --progress always): the snapshot against
// the RDB's own size ($len) or, diskless, the source's key count; never past 100%.
TEST_CASE("the snapshot's progress is counted against the RDB's size, or its keys when diskless", "[repl][progress]") {
  for (bool diskless : {false, true}) {
    INFO((diskless ? "diskless" : "disk"));
    RedisServerOptions o;
    o.config = {{"repl-diskless-sync", diskless ? "yes" : "no"}};
    RedisServer src(o), dst;
    auto s = test::connect(src);
    {
      Pipeline pipe(*s);
      for (int i = 0; i < 60000; ++i) pipe.send({"SET", "p:" + std::to_string(i), std::string(100, 'x')});
    }
    auto r = run_ferry({"migrate", "--mode", "snapshot", "--source", src.uri(), "--target", dst.uri(), "--progress", "always",
                        "--max-ops", "40000"});  // paced, so the line is drawn a few times
    REQUIRE(r.exit_code == 0);
    const std::string unit = diskless ? " keys (" : " bytes (";
    CHECK_THAT(r.err, Catch::Contains("snapshot: ") && Catch::Contains(unit));
    if (diskless) CHECK_THAT(r.err, Catch::Contains("/ 60000 keys"));
    // No percentage above 100.
    for (size_t at = r.err.find("%)"); at != std::string::npos; at = r.err.find("%)", at + 1)) {
      size_t open = r.err.rfind('(', at);
      CHECK(std::stod(r.err.substr(open + 1, at - open - 1)) <= 100.0);
    }
  }
}
