// Migration as a replica against real servers: --mode snapshot (disk and diskless transfers) and
// --mode sync under a write load of every supported command, transactions, scripts, flushes,
// SWAPDB, the heartbeat, --until-caught-up and --block-flush.
#include "support.h"
#include "workload/command_workload.h"
#include "workload/mixed_dataset.h"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <fstream>
#include <thread>

using namespace ferry;
using ferry::sim::RedisServer;
using ferry::sim::RedisServerOptions;
using ferry::test::BackgroundFerry;
using ferry::test::run_ferry;

namespace {

std::vector<std::string> args(const RedisServer& src, const RedisServer& dst, const char* mode, std::vector<std::string> extra = {}) {
  std::vector<std::string> a{"migrate", "--mode", mode, "--source", src.uri(), "--target", dst.uri()};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

RedisServerOptions source_options(bool diskless) {
  RedisServerOptions o;
  o.config = {{"repl-diskless-sync", diskless ? "yes" : "no"}};
  return o;
}

// Waits until the target holds what the source holds (key by key), at most `seconds`.
// Groups' entries-read is left out: replication cannot reproduce it (Redis' own replicas neither).
ComparisonResult wait_equal(Connection& s, Connection& d, double seconds) {
  ComparisonOptions options;
  options.group_entries_read = false;
  return test::wait_until_equal(s, d, options, seconds);
}

long long exec_calls(Connection& c) {
  auto stats = c.info("commandstats");
  auto it = stats.find("cmdstat_exec");
  return it == stats.end() ? 0 : std::atoll(it->second.c_str() + it->second.find("calls=") + 6);
}


}  // namespace

TEST_CASE("snapshot mode copies every type exactly, by disk and diskless transfer", "[repl][snapshot]") {
  for (bool diskless : {false, true}) {
    INFO((diskless ? "diskless ($EOF:)" : "disk ($len)"));
    RedisServer src(source_options(diskless)), dst;
    auto s = test::connect(src);
    sim::MixedDatasetOptions fill;
    fill.seed = diskless ? 2 : 3;
    fill.keys_per_db = 700;
    sim::fill_mixed_dataset(*s, fill);
    {
      Pipeline pipe(*s);
      for (int i = 0; i < 300; ++i) {
        Args push{"RPUSH", "snap:big"};
        for (int j = 0; j < 1000; ++j) push.push_back(fmt::format("element-{}-of-the-big-list", i * 1000 + j));
        pipe.send(push);
      }
    }
    std::string report = dst.dir() + "/r.json";
    auto r = run_ferry(args(src, dst, "snapshot", {"--report", report}));
    REQUIRE(r.exit_code == 0);
    test::require_identical(*s, *test::connect(dst));
    CHECK(test::read_json(report)["copied_chunked"] == 1);
  }
}

TEST_CASE("sync keeps the target equal under a load of every supported command", "[repl][sync]") {
  RedisServer src, dst;
  auto s = test::connect(src);
  sim::MixedDatasetOptions fill;
  fill.seed = 5;
  fill.keys_per_db = 300;
  sim::fill_mixed_dataset(*s, fill);
  sim::CommandWorkload before(*s, 1);
  for (int i = 0; i < 3; ++i) before.round();
  long long exec_before = exec_calls(*test::connect(dst));

  std::string report = dst.dir() + "/r.json";
  BackgroundFerry ferry(args(src, dst, "sync", {"--report", report, "--no-heartbeat"}));
  // Writes during the snapshot and after it.
  auto writer_conn = test::connect(src);
  sim::CommandWorkload load(*writer_conn, 2);
  for (int i = 0; i < 40; ++i) {
    load.round();
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  auto d = test::connect(dst);
  auto equal = wait_equal(*s, *d, 20);
  INFO(equal.summary());
  CHECK(equal.equal());
  CHECK(equal.source_digest == equal.target_digest);
  auto r = ferry.stop();
  CHECK(r.exit_code == 0);  // SIGTERM: a clean stop
  auto j = test::read_json(report);
  CHECK(j["stream"]["errors"] == 0);
  CHECK(j["stream"]["transactions"].get<long long>() >= 40);
  CHECK(exec_calls(*d) - exec_before >= 40);  // MULTI/EXEC reached the target as transactions
  for (const char* cmd : {"SET", "PEXPIREAT", "LPOP", "SREM", "XCLAIM", "ZADD", "RESTORE", "MOVE", "HSET"})
    CHECK(j["stream"]["per_command"].contains(cmd));
}

TEST_CASE("until-caught-up exits once the target is level, and the heartbeat never reaches it", "[repl][sync]") {
  RedisServer src, dst;
  auto s = test::connect(src);
  sim::CommandWorkload load(*s, 9);
  for (int i = 0; i < 5; ++i) load.round();
  std::string report = dst.dir() + "/r.json";
  {
    BackgroundFerry ferry(args(src, dst, "sync", {"--task-id", "t1", "--report", report}));
    test::wait_for_replica(*s, 30);
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // a few heartbeats go round
    REQUIRE(ferry.stop().exit_code == 0);
  }
  auto j = test::read_json(report);
  CHECK(j["lag_ms"].is_number());
  CHECK(j["stream"]["skipped"].get<long long>() >= 2);  // the heartbeat writes came back, not applied
  auto d = test::connect(dst);
  for (int db = 0; db < 16; ++db) {
    d->select(db);
    CHECK(d->checked({"SCAN", "0", "MATCH", "ferry:heartbeat:*", "COUNT", "1000"}).elements[1].elements.empty());
  }
  d->select(0);

  for (int i = 0; i < 5; ++i) load.round();  // more writes, then a run that stops once level
  RedisServer dst2;
  auto r = run_ferry(args(src, dst2, "sync", {"--until-caught-up", "--report", report}));
  REQUIRE(r.exit_code == 0);
  j = test::read_json(report);
  CHECK(j["caught_up"] == true);
  // The source may move on after the moment of catching up (its keys with a TTL expire, and each
  // expiry is a DEL in the stream): then the report's last source offset is ahead, and says why.
  if (j["applied_offset"].get<long long>() < j["source_offset"].get<long long>())
    CHECK(j.contains("writes_continue"));
  ComparisonOptions cmp;
  cmp.group_entries_read = false;
  test::require_identical(*s, *test::connect(dst2), cmp, false);  // the source still holds the heartbeat key
}

TEST_CASE("sync with --db: flushes, SWAPDB, MOVE across selected and unselected DBs", "[repl][sync][db]") {
  RedisServer src, dst;
  auto s = test::connect(src);
  s->select(0);
  s->checked({"SET", "a", "1"});
  s->checked({"SET", "moving-out", "x"});
  s->select(5);
  s->checked({"SET", "unselected", "1"});
  auto d = test::connect(dst);
  BackgroundFerry ferry(args(src, dst, "sync", {"--db", "0,1", "--no-heartbeat"}));
  test::wait_for_replica(*s, 30);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  d->select(5);
  d->checked({"SET", "target-own", "keep"});  // DB 5 is not ferry's
  s->select(5);
  s->checked({"FLUSHDB"});  // an unselected DB: not applied
  s->select(0);
  s->checked({"MOVE", "moving-out", "5"});  // leaves the selected DBs: deleted on the target
  s->checked({"SET", "b", "2"});
  s->select(1);
  s->checked({"SET", "one", "1"});
  s->checked({"SWAPDB", "0", "1"});  // both selected: applied
  s->select(0);
  s->checked({"SET", "after-swap", "yes"});
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto r = ferry.stop();
  CHECK(r.exit_code == 0);
  d->select(5);
  CHECK(d->checked({"GET", "target-own"}).str == "keep");
  d->select(0);
  CHECK(d->checked({"GET", "one"}).str == "1");
  CHECK(d->checked({"GET", "after-swap"}).str == "yes");
  d->select(1);
  CHECK(d->checked({"GET", "a"}).str == "1");
  CHECK(d->checked({"GET", "b"}).str == "2");
  CHECK(d->checked({"EXISTS", "moving-out"}).integer == 0);
}

// Found by the applier property (ferry fuzz applier): SWAPDB passed through unmapped when --db-map
// was given without --db.
TEST_CASE("SWAPDB under --db-map without --db swaps the mapped target DBs", "[repl][sync][db]") {
  RedisServer src, dst;
  auto s = test::connect(src);
  s->select(0);
  s->checked({"SET", "a", "1"});
  s->select(2);
  s->checked({"SET", "c", "3"});
  BackgroundFerry ferry(args(src, dst, "sync", {"--db-map", "0:5,5:0", "--no-heartbeat"}));
  test::wait_for_replica(*s, 30);
  s->checked({"SWAPDB", "0", "2"});  // the target must swap DB 5 (source 0) with DB 2
  s->select(0);
  s->checked({"SET", "after-swap", "yes"});
  REQUIRE(s->checked({"WAIT", "1", "10000"}).integer == 1);  // ferry acknowledges what the target holds
  auto r = ferry.stop();
  CHECK(r.exit_code == 0);
  auto d = test::connect(dst);
  d->select(5);
  CHECK(d->checked({"GET", "c"}).str == "3");
  CHECK(d->checked({"GET", "after-swap"}).str == "yes");
  CHECK(d->checked({"DBSIZE"}).integer == 2);
  d->select(2);
  CHECK(d->checked({"GET", "a"}).str == "1");
  CHECK(d->checked({"DBSIZE"}).integer == 1);
  d->select(0);
  CHECK(d->checked({"DBSIZE"}).integer == 0);
}

TEST_CASE("block-flush stops the task on FLUSHALL with the target untouched", "[repl][sync]") {
  RedisServer src, dst;
  auto s = test::connect(src);
  s->checked({"SET", "k", "v"});
  BackgroundFerry ferry(args(src, dst, "sync", {"--block-flush", "--no-heartbeat"}));
  auto d = test::connect(dst);
  for (int i = 0; i < 100 && d->checked({"EXISTS", "k"}).integer == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  s->checked({"FLUSHALL"});
  auto r = ferry.wait(15);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("FLUSHALL") != std::string::npos);
  CHECK(d->checked({"GET", "k"}).str == "v");
}

TEST_CASE("scripts: effects from 7.0, verbatim EVAL from Redis 6.0", "[repl][sync][scripts]") {
  SECTION("7.0 source: a script's writes arrive as its effects") {
    RedisServer src, dst;
    auto s = test::connect(src);
    BackgroundFerry ferry(args(src, dst, "sync", {"--no-heartbeat"}));
    test::wait_for_replica(*s, 30);
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    for (int i = 0; i < 20; ++i)
      s->checked({"EVAL", "redis.call('INCR', KEYS[1]); redis.call('RPUSH', KEYS[2], ARGV[1]); return 1", "2", "c", "l",
                  std::to_string(i)});
    auto d = test::connect(dst);
    auto eq = wait_equal(*s, *d, 10);
    INFO(eq.summary());
    CHECK(eq.equal());
    CHECK(ferry.stop().exit_code == 0);
  }
  SECTION("6.0 source with verbatim script replication") {
    auto binary = test::other_server("redis-6.0");
    if (!binary) {
      WARN("skipped: redis-6.0 not fetched (run tools/fetch-servers)");
      return;
    }
    RedisServerOptions o;
    o.binary = *binary;
    o.config = {{"lua-replicate-commands", "no"}};
    RedisServer src(o), dst;
    auto s = test::connect(src);
    s->checked({"SET", "before", "1", "EX", "5000"});
    std::string report = dst.dir() + "/r.json";
    BackgroundFerry ferry(args(src, dst, "sync", {"--no-heartbeat", "--accept-warnings", "--report", report}));
    test::wait_for_replica(*s, 30);
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    for (int i = 0; i < 20; ++i) {
      s->checked({"EVAL", "redis.call('INCR', KEYS[1]); return 1", "1", "counter"});
      s->checked({"SETEX", "relative" + std::to_string(i), "1000", "v"});
      s->checked({"EXPIRE", "before", "6000"});
    }
    // A script that writes twice and then fails with WRONGTYPE: replicated (it wrote), it fails the
    // same way on the target; a script's own error, whatever its class, is not a failed write.
    Reply failed = s->command({"EVAL", "redis.call('INCR', KEYS[1]); redis.call('HSET', KEYS[2], 'f', 'v'); "
                                       "return redis.call('INCR', KEYS[2])", "2", "partial:a", "partial:h"});
    CHECK(failed.is_error());
    auto d = test::connect(dst);
    ComparisonOptions cmp;
    cmp.ttl_tolerance_ms = 1000;  // relative expiries from 6.0 are made absolute on arrival
    cmp.stream_v7_fields = false;
    cmp.group_entries_read = false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    auto eq = compare_datasets(*s, *d, cmp);
    INFO(eq.summary());
    CHECK(eq.equal());
    CHECK(d->checked({"GET", "counter"}).str == "20");
    CHECK(ferry.stop().exit_code == 0);
    auto j = test::read_json(report);
    CHECK(j["stream"]["unconfirmed_scripts"] == 21);  // verbatim EVALs: outcome not confirmed
    CHECK(j["stream"]["script_errors"] == 1);
    CHECK(j["stream"]["errors"] == 0);
    CHECK(d->checked({"HGET", "partial:h", "f"}).str == "v");
    CHECK(j["stream"]["unconfirmed_script_examples"][0].get<std::string>().find("'counter'") != std::string::npos);
  }
}

TEST_CASE("a Redis 6.0 target gets what it can apply: PXAT as PX, LMOVE rewritten, consumers created", "[repl][versions]") {
  auto binary = test::other_server("redis-6.0");
  if (!binary) {
    WARN("skipped: redis-6.0 not fetched (run tools/fetch-servers)");
    return;
  }
  RedisServerOptions old;
  old.binary = *binary;
  RedisServer src, dst(old);
  auto s = test::connect(src);
  // In the snapshot: a stream group with a consumer that has nothing pending (no CREATECONSUMER on 6.0).
  s->checked({"XADD", "events", "1-1", "f", "v"});
  s->checked({"XGROUP", "CREATE", "events", "g", "0"});
  s->checked({"XGROUP", "CREATECONSUMER", "events", "g", "idle-consumer"});
  std::string report = dst.dir() + "/r.json";
  BackgroundFerry ferry(args(src, dst, "sync", {"--no-heartbeat", "--accept-warnings", "--report", report}));
  test::wait_for_replica(*s, 30);
  const long long at = test::now_ms() + 600'000;
  s->checked({"SETEX", "setex", "500", "v"});
  s->checked({"SET", "set-px", "v", "PX", "400000"});
  s->checked({"SET", "set-pxat", "v", "PXAT", std::to_string(at)});
  s->checked({"RPUSH", "from", "a", "b", "c", "d"});
  s->checked({"LMOVE", "from", "to", "RIGHT", "LEFT"});  // RPOPLPUSH
  s->checked({"LMOVE", "from", "to", "LEFT", "RIGHT"});  // pop + push in one script
  s->checked({"LMOVE", "from", "from", "LEFT", "LEFT"});
  test::wait_for_replica(*s, 30);
  auto d = test::connect(dst);
  ComparisonOptions cmp;
  cmp.ttl_tolerance_ms = 1000;  // 6.0 holds PX, counted from arrival
  cmp.stream_v7_fields = false;
  cmp.group_entries_read = false;
  auto eq = test::wait_until_equal(*s, *d, cmp, 10);
  INFO(eq.summary());
  CHECK(eq.equal());
  CHECK(d->checked({"LRANGE", "to", "0", "-1"}).elements.size() == 2);
  CHECK(d->checked({"LINDEX", "to", "0"}).str == "d");
  CHECK(d->checked({"LINDEX", "to", "1"}).str == "a");
  CHECK(std::llabs(d->checked({"PTTL", "set-pxat"}).integer - (at - test::now_ms())) < 2000);
  CHECK(d->checked({"PTTL", "setex"}).integer > 490'000);
  Reply consumers = d->checked({"XINFO", "CONSUMERS", "events", "g"});
  REQUIRE(consumers.elements.size() == 1);
  CHECK(consumers.elements[0].elements.at(1).str == "idle-consumer");
  CHECK(ferry.stop().exit_code == 0);
  CHECK(test::read_json(report)["stream"]["errors"] == 0);
}

TEST_CASE("an unreachable source is exit 4", "[repl]") {
  RedisServer dst;
  int port = sim::free_loopback_port();
  auto r = run_ferry({"migrate", "--mode", "sync", "--source", "redis://127.0.0.1:" + std::to_string(port), "--target", dst.uri()});
  CHECK(r.exit_code == 4);
}

TEST_CASE("a source that refuses PSYNC is synced with SYNC", "[repl][sync]") {
  RedisServerOptions o;
  o.extra_args = {"--rename-command", "PSYNC", ""};
  RedisServer src(o), dst;
  auto s = test::connect(src);
  sim::MixedDatasetOptions fill;
  fill.keys_per_db = 200;
  sim::fill_mixed_dataset(*s, fill);
  SECTION("snapshot") {
    auto r = run_ferry(args(src, dst, "snapshot"));
    REQUIRE(r.exit_code == 2);  // the precheck warns: without PSYNC every reconnect is a full resync
    CHECK(r.err.find("PSYNC is renamed or disabled") != std::string::npos);
    r = run_ferry(args(src, dst, "snapshot", {"--accept-warnings"}));
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find("using SYNC") != std::string::npos);
    test::require_identical(*s, *test::connect(dst));
  }
  SECTION("sync until caught up") {
    sim::CommandWorkload load(*s, 4);
    load.round();
    auto r = run_ferry(args(src, dst, "sync", {"--until-caught-up", "--no-heartbeat", "--accept-warnings"}));
    REQUIRE(r.exit_code == 0);
    ComparisonOptions cmp;
    cmp.group_entries_read = false;
    test::require_identical(*s, *test::connect(dst), cmp);
  }
}

TEST_CASE("a throttled sync still converges, and scripts from the stream are counted", "[repl][sync]") {
  RedisServer src, dst;
  auto s = test::connect(src);
  std::string report = dst.dir() + "/r.json";
  BackgroundFerry ferry(args(src, dst, "sync", {"--max-ops", "200", "--max-bytes", "100000", "--no-heartbeat",
                                                  "--report", report}));
  test::wait_for_replica(*s, 30);  // the writes below go through the stream
  sim::CommandWorkload load(*s, 12);
  for (int i = 0; i < 5; ++i) load.round();
  auto eq = wait_equal(*s, *test::connect(dst), 30);
  INFO(eq.summary());
  CHECK(eq.equal());
  CHECK(ferry.stop().exit_code == 0);
  auto j = test::read_json(report);
  CHECK(j["stream"]["commands"].get<long long>() > 200);
  CHECK(j["stream"]["unconfirmed_scripts"] == 0);  // 7.0 sends script effects, not scripts
}

TEST_CASE("a RESTORE in the stream that the target refuses is written with native commands", "[repl][sync][versions]") {
  auto binary = test::other_server("redis-8.0");
  if (!binary) {
    WARN("skipped: redis-8.0 not fetched (run tools/fetch-servers)");
    return;
  }
  RedisServerOptions o;
  o.binary = *binary;
  RedisServer src(o), dst;  // 8.0 writes RDB 12 payloads, which 7.0 refuses
  auto s = test::connect(src);
  std::string report = dst.dir() + "/r.json";
  BackgroundFerry ferry(args(src, dst, "sync", {"--no-heartbeat", "--accept-warnings", "--report", report}));
  test::wait_for_replica(*s, 30);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  s->checked({"RPUSH", "orig", "a", "b", "c"});
  s->checked({"HSET", "h", "f", "v"});
  std::string list_dump = s->checked({"DUMP", "orig"}).str;
  std::string hash_dump = s->checked({"DUMP", "h"}).str;
  s->checked({"RESTORE", "copy", "0", list_dump});
  s->checked({"RESTORE", "hcopy", "100000000", hash_dump});  // relative TTL
  auto d = test::connect(dst);
  for (int i = 0; i < 50 && d->checked({"EXISTS", "hcopy"}).integer == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(ferry.stop().exit_code == 0);
  CHECK(d->checked({"LRANGE", "copy", "0", "-1"}).elements.size() == 3);
  CHECK(d->checked({"HGET", "hcopy", "f"}).str == "v");
  CHECK(std::llabs(d->checked({"PEXPIRETIME", "hcopy"}).integer - s->checked({"PEXPIRETIME", "hcopy"}).integer) < 1000);
  auto j = test::read_json(report);
  CHECK(j["stream"]["per_command"]["RESTORE"] == 2);
  CHECK(j["copied_chunked"] == 2);  // the stream's RESTOREs the target refused, written natively
}

TEST_CASE("commands inside MULTI/EXEC follow the same DB and flush rules", "[repl][sync][db]") {
  RedisServer src, dst;
  auto s = test::connect(src), d = test::connect(dst);
  s->checked({"SET", "before", "1"});
  BackgroundFerry ferry(args(src, dst, "sync", {"--db", "0", "--no-heartbeat"}));
  for (int i = 0; i < 100 && d->checked({"EXISTS", "before"}).integer == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  d->select(5);
  d->checked({"SET", "target-own", "keep"});  // DB 5 is not ferry's
  d->select(0);
  s->checked({"MULTI"});
  s->checked({"FLUSHALL"});
  s->checked({"SET", "after", "2"});
  s->checked({"SELECT", "3"});
  s->checked({"SET", "unselected", "x"});
  s->checked({"EXEC"});
  s->select(0);
  s->checked({"SET", "last", "3"});
  for (int i = 0; i < 100 && d->checked({"EXISTS", "last"}).integer == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(ferry.stop().exit_code == 0);
  CHECK(d->checked({"EXISTS", "before"}).integer == 0);
  CHECK(d->checked({"GET", "after"}).str == "2");
  d->select(5);
  CHECK(d->checked({"GET", "target-own"}).str == "keep");  // FLUSHALL became FLUSHDB on DB 0 only
  d->select(3);
  CHECK(d->checked({"DBSIZE"}).integer == 0);
}
