// A broken replication link is resumed by partial resync (PSYNC <replid> <offset+1>) while the
// source's backlog covers the gap; a gap past the backlog and a full target stop with clear errors.
#include "support.h"
#include "workload/command_workload.h"

#include <signal.h>

#include <thread>

using namespace ferry;
using ferry::sim::RedisServer;
using ferry::sim::RedisServerOptions;
using ferry::test::BackgroundFerry;

namespace {

long long stat(Connection& c, const std::string& name) { return std::atoll(c.info("stats")[name].c_str()); }

std::vector<std::string> sync_args(const RedisServer& src, const RedisServer& dst, std::vector<std::string> extra = {}) {
  std::vector<std::string> a{"migrate", "--mode", "sync", "--source", src.uri(), "--target", dst.uri(), "--no-heartbeat"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

}  // namespace

TEST_CASE("the link killed again and again under writes is resumed by partial resync, ending equal", "[repl][resume]") {
  RedisServer src, dst;
  auto s = test::connect(src), admin = test::connect(src);
  std::string report = dst.dir() + "/r.json";
  BackgroundFerry ferry(sync_args(src, dst, {"--report", report}));
  sim::CommandWorkload load(*s, 21);
  for (int i = 0; i < 5; ++i) load.round();
  for (int cut = 0; cut < 6; ++cut) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    admin->checked({"CLIENT", "KILL", "TYPE", "replica"});
    for (int i = 0; i < 3; ++i) load.round();  // writes while the link is down
  }
  ComparisonOptions cmp;
  cmp.group_entries_read = false;
  auto d = test::connect(dst);
  ComparisonResult eq = test::wait_until_equal(*s, *d, cmp, 20);
  INFO(eq.summary());
  CHECK(eq.equal());
  CHECK(stat(*admin, "sync_full") == 1);
  CHECK(stat(*admin, "sync_partial_ok") >= 6);
  auto r = ferry.stop();
  CHECK(r.exit_code == 0);
  auto j = test::read_json(report);
  CHECK(j["partial_resyncs"].get<long long>() >= 6);
  CHECK(j["stream"]["errors"] == 0);
}

TEST_CASE("a gap past the backlog ends in a full resync done right: no duplicates, no survivors", "[repl][resume]") {
  RedisServerOptions small_backlog;
  small_backlog.config = {{"repl-backlog-size", "16kb"}};
  RedisServer src(small_backlog), dst;
  auto s = test::connect(src), d = test::connect(dst);
  d->checked({"SET", "target-own", "keep"});  // on the target before the task: left alone
  s->checked({"RPUSH", "list", "a", "b", "c"});
  for (int i = 0; i < 20; ++i) s->checked({"SET", "doomed:" + std::to_string(i), "x"});
  std::string report = dst.dir() + "/r.json";
  BackgroundFerry ferry(sync_args(src, dst, {"--on-conflict", "replace", "--accept-warnings", "--report", report}));
  for (int i = 0; i < 100 && d->checked({"EXISTS", "doomed:19"}).integer == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(ferry.pid(), SIGSTOP);  // ferry cannot reconnect while the gap grows past the backlog
  s->checked({"CLIENT", "KILL", "TYPE", "replica"});
  s->checked({"RPUSH", "list", "d", "e"});
  for (int i = 0; i < 20; ++i) s->checked({"DEL", "doomed:" + std::to_string(i)});
  for (int i = 0; i < 50; ++i) s->checked({"SET", "filler:" + std::to_string(i), std::string(2000, 'x')});
  ::kill(ferry.pid(), SIGCONT);
  s->checked({"RPUSH", "list", "f"});  // after the outage: through the new stream
  ComparisonOptions cmp;
  cmp.group_entries_read = false;
  ComparisonResult eq;
  for (int i = 0; i < 100; ++i) {
    eq = compare_datasets(*s, *d, cmp);
    if (eq.dbsize_mismatches == 1 && eq.missing_on_target == 0 && eq.value_mismatches == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  auto r = ferry.stop();
  CHECK(r.exit_code == 0);
  INFO(eq.summary());
  CHECK(eq.missing_on_target == 0);
  CHECK(eq.value_mismatches == 0);
  CHECK(eq.expiry_mismatches == 0);
  CHECK(d->checked({"LRANGE", "list", "0", "-1"}).elements.size() == 6);  // a b c d e f: nothing twice
  CHECK(d->checked({"EXISTS", "doomed:0"}).integer == 0);                   // deleted during the outage
  CHECK(d->checked({"GET", "target-own"}).str == "keep");
  CHECK(d->checked({"DBSIZE"}).integer == s->checked({"DBSIZE"}).integer + 1);  // + target-own
  auto j = test::read_json(report);
  CHECK(j["full_resyncs"] == 1);
  CHECK(j["resync_deleted_keys"] == 20);
  CHECK(stat(*s, "sync_full") == 2);
}

TEST_CASE("a target out of memory stops the task naming the command and key", "[repl][oom]") {
  RedisServerOptions small;
  small.maxmemory = "4mb";
  small.maxmemory_policy = "noeviction";
  RedisServer src, dst(small);
  BackgroundFerry ferry(sync_args(src, dst, {"--accept-warnings"}));
  test::wait_for_replica(*test::connect(src), 30);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  auto s = test::connect(src);
  for (int i = 0; i < 400; ++i) s->checked({"SET", "big:" + std::to_string(i), std::string(20000, 'x')});
  auto r = ferry.wait(30);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("OOM") != std::string::npos);
  CHECK(r.err.find("'DB 0 SET big:") != std::string::npos);
  CHECK(r.err.find("holds the stream up to offset") != std::string::npos);
}

TEST_CASE("a restarted ferry resumes from its state file: partial resync after a clean stop", "[repl][state]") {
  RedisServer src, dst;
  auto s = test::connect(src), d = test::connect(dst);
  std::string state = dst.dir() + "/ferry.state";
  sim::CommandWorkload load(*s, 31);
  load.round();
  {
    BackgroundFerry first(sync_args(src, dst, {"--state", state}));
    test::wait_for_replica(*s, 30);
    for (int i = 0; i < 3; ++i) load.round();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    CHECK(first.stop().exit_code == 0);
  }
  for (int i = 0; i < 3; ++i) load.round();  // while ferry is down
  std::string report = dst.dir() + "/r.json";
  auto r = test::run_ferry({"migrate", "--mode", "sync", "--source", src.uri(), "--target", dst.uri(), "--no-heartbeat",
                            "--state", state, "--until-caught-up", "--report", report});
  REQUIRE(r.exit_code == 0);
  auto j = test::read_json(report);
  CHECK(j["resumed_from_state"] == true);
  CHECK(stat(*s, "sync_full") == 1);
  ComparisonOptions cmp;
  cmp.group_entries_read = false;
  test::require_identical(*s, *d, cmp);
}

TEST_CASE("ferry killed with SIGKILL mid-stream, or a target restarted empty, ends equal after restart", "[repl][state]") {
  RedisServer src;
  auto dst = std::make_unique<RedisServer>();
  auto s = test::connect(src);
  std::string state = src.dir() + "/ferry.state";
  sim::CommandWorkload load(*s, 41);
  load.round();
  {
    BackgroundFerry first(sync_args(src, *dst, {"--state", state}));
    test::wait_for_replica(*s, 30);
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    for (int i = 0; i < 10; ++i) load.round();
    ::kill(first.pid(), SIGKILL);
  }
  SECTION("restart after SIGKILL") {}
  SECTION("the target also restarted without persistence") {
    int port = dst->port();
    dst.reset();
    RedisServerOptions same_port;
    same_port.port = port;
    dst = std::make_unique<RedisServer>(same_port);
    REQUIRE(dst->port() != 0);
  }
  for (int i = 0; i < 3; ++i) load.round();
  auto r = test::run_ferry({"migrate", "--mode", "sync", "--source", src.uri(), "--target", dst->uri(), "--no-heartbeat",
                            "--state", state, "--until-caught-up"});
  REQUIRE(r.exit_code == 0);
  ComparisonOptions cmp;
  cmp.group_entries_read = false;
  test::require_identical(*s, *test::connect(*dst), cmp);
}

TEST_CASE("a target that restarts mid-stream is reconnected and resynced, ending equal", "[repl][target]") {
  RedisServer src;
  auto dst = std::make_unique<RedisServer>();
  auto s = test::connect(src);
  sim::CommandWorkload load(*s, 51);
  load.round();
  std::string report = src.dir() + "/r.json";
  BackgroundFerry ferry(sync_args(src, *dst, {"--report", report}));
  test::wait_for_replica(*s, 30);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  for (int i = 0; i < 3; ++i) load.round();
  int port = dst->port();
  dst.reset();  // the target dies, and comes back empty on the same port a moment later
  for (int i = 0; i < 3; ++i) load.round();
  RedisServerOptions same_port;
  same_port.port = port;
  dst = std::make_unique<RedisServer>(same_port);
  for (int i = 0; i < 3; ++i) load.round();
  ComparisonOptions cmp;
  cmp.group_entries_read = false;
  auto d = test::connect(*dst);
  ComparisonResult eq = test::wait_until_equal(*s, *d, cmp, 20);
  INFO(eq.summary());
  CHECK(eq.equal());
  CHECK(ferry.stop().exit_code == 0);
  CHECK(test::read_json(report)["full_resyncs"] == 1);
}

TEST_CASE("with --spool-dir a slow applier is not cut off by the source's output-buffer limit", "[repl][spool]") {
  for (bool spool : {false, true}) {
    INFO((spool ? "with" : "without") << " spooling");
    RedisServerOptions tight;
    tight.extra_args = {"--client-output-buffer-limit", "replica", "256kb", "64kb", "1"};
    RedisServer src(tight), dst;
    auto s = test::connect(src);
    std::vector<std::string> extra{"--max-bytes", "3000000"};
    if (spool) extra.insert(extra.end(), {"--spool-dir", dst.dir()});
    BackgroundFerry ferry(sync_args(src, dst, extra));
    for (int i = 0; i < 50 && stat(*s, "sync_full") == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    {
      Pipeline pipe(*s);
      // ~12 MB at once: more than the kernel's socket buffers hold, so a slow reader leaves the rest
      // in the source's output buffer, far past its 256 KB limit.
      for (int i = 0; i < 12000; ++i) pipe.send({"SET", "k" + std::to_string(i), std::string(1000, 'v')});
    }
    auto d = test::connect(dst);
    for (int i = 0; i < 300 && d->checked({"DBSIZE"}).integer < 12000; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto r = ferry.stop();
    CHECK(r.exit_code == 0);
    long long reconnects = stat(*s, "sync_partial_ok") + stat(*s, "sync_full") - 1;
    INFO(src.log_tail(3000));
    if (spool) CHECK(reconnects == 0);  // never cut off
    else CHECK(reconnects > 0);         // the control: the limit does cut a slow reader off
    ComparisonOptions cmp;
    test::require_identical(*s, *test::connect(dst), cmp, false);
  }
}

TEST_CASE("the link killed during the snapshot starts over with a new one, ending equal", "[repl][resume]") {
  RedisServer src, dst;
  auto s = test::connect(src);
  s->checked({"DEBUG", "POPULATE", "100000", "pop", "64"});
  {
    Pipeline pipe(*s);
    for (int i = 0; i < 1500; ++i) {
      Args push{"RPUSH", "biglist"};
      for (int j = 0; j < 1000; ++j) push.push_back("element-" + std::to_string(i * 1000 + j));
      pipe.send(push);
    }
  }
  std::string report = dst.dir() + "/r.json";
  BackgroundFerry ferry(sync_args(src, dst, {"--report", report}));
  auto d = test::connect(dst);
  // Inside the snapshot: the target holds part of it (the big list, copied in chunks, comes last or
  // first; either way the key count is between none and all).
  long long total = s->checked({"DBSIZE"}).integer;
  for (int i = 0; i < 2000; ++i) {
    long long n = d->checked({"DBSIZE"}).integer;
    if (n > 0 && n < total) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  long long partial = d->checked({"DBSIZE"}).integer;
  s->checked({"CLIENT", "KILL", "TYPE", "replica"});
  INFO("target held " << partial << " of " << total << " keys when the link was cut");
  REQUIRE(partial < total);
  s->checked({"DEL", "pop:1"});  // gone from the source while the snapshot restarts
  ComparisonResult eq;
  ComparisonOptions cmp;
  for (int i = 0; i < 150; ++i) {
    eq = compare_datasets(*s, *d, cmp);
    if (eq.equal()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO(eq.summary());
  CHECK(eq.equal());
  CHECK(ferry.stop().exit_code == 0);
  auto j = test::read_json(report);
  CHECK(j["full_resyncs"] == 1);
  CHECK(stat(*s, "sync_full") == 2);
}

TEST_CASE("spooling switches itself on when the applier falls behind", "[repl][spool]") {
  RedisServer src, dst;
  auto s = test::connect(src);
  std::string report = dst.dir() + "/r.json";
  BackgroundFerry ferry(sync_args(src, dst, {"--max-bytes", "4000000", "--report", report}));
  for (int i = 0; i < 50 && stat(*s, "sync_full") == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  {
    Pipeline pipe(*s);  // ~20 MB at once, applied at 4 MB/s: the stream lags by more than 8 MB
    for (int i = 0; i < 20000; ++i) pipe.send({"SET", "k" + std::to_string(i), std::string(1000, 'v')});
  }
  auto d = test::connect(dst);
  for (int i = 0; i < 300 && d->checked({"DBSIZE"}).integer < 20000; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto r = ferry.stop();
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("spooling it to") != std::string::npos);
  CHECK(test::read_json(report)["spooled"] == true);
  test::require_identical(*s, *d, {}, false);
}
