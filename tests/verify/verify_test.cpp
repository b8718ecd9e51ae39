// `ferry verify` against real servers: identical data passes under a live write load; every cause
// of divergence is planted and must come back with its one right cause and no false `unexplained`;
// big keys that differ in one element are found; the compare levels and exit codes hold.
#include "support.h"
#include "workload/mixed_dataset.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

using namespace ferry;
using ferry::sim::RedisServer;
using ferry::sim::RedisServerOptions;
using ferry::test::run_ferry;

namespace {

struct VerifyRun {
  int exit_code;
  nlohmann::json report;
  std::string out;
};

VerifyRun verify(const RedisServer& src, const RedisServer& dst, std::vector<std::string> extra = {}) {
  std::string path = dst.dir() + "/verify.json";
  std::vector<std::string> args{"verify", "--source", src.uri(), "--target", dst.uri(), "--report", path};
  args.insert(args.end(), extra.begin(), extra.end());
  if (std::find(extra.begin(), extra.end(), "--interval") == extra.end()) args.insert(args.end(), {"--interval", "0.2"});
  auto r = run_ferry(args);
  VerifyRun out{r.exit_code, nlohmann::json(), r.out};
  if (r.exit_code == 0 || r.exit_code == 1) out.report = test::read_json(path);
  return out;
}

// cause of each divergence, by key
std::map<std::string, std::string> causes(const nlohmann::json& report) {
  std::map<std::string, std::string> out;
  for (const auto& d : report["divergences"]) out[d["key"].get<std::string>()] = d["cause"].get<std::string>();
  return out;
}

long long count(const nlohmann::json& report, const std::string& cause) {
  return report["summary"]["by_cause"][cause].get<long long>();
}

void copy_all(const RedisServer& src, const RedisServer& dst, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"migrate", "--source", src.uri(), "--target", dst.uri(), "--accept-warnings"};
  args.insert(args.end(), extra.begin(), extra.end());
  REQUIRE(run_ferry(args).exit_code == 0);
}

}  // namespace

TEST_CASE("identical datasets pass, also under a live write load followed by a replica", "[verify]") {
  RedisServer src, replica;
  auto s = test::connect(src);
  sim::MixedDatasetOptions fill;
  fill.keys_per_db = 2000;
  fill.expiring_fraction = 0;
  sim::fill_mixed_dataset(*s, fill);
  auto r = test::connect(replica);
  r->checked({"REPLICAOF", "127.0.0.1", std::to_string(src.port())});
  for (int i = 0; i < 200 && r->info("replication")["master_link_status"] != "up"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  REQUIRE(r->info("replication")["master_link_status"] == "up");

  // A writer keeps writing new keys while verify runs: the first round may see them in flight on
  // one side only; the rechecks must not.
  std::atomic<bool> stop{false};
  std::atomic<long long> written{0};
  std::thread writer([&] {
    auto w = test::connect(src);
    for (long long i = 0; !stop; ++i) {
      w->checked({"SET", "live:" + std::to_string(i), std::to_string(i)});
      w->checked({"HSET", "livehash:" + std::to_string(i % 500), "f" + std::to_string(i), "v"});
      w->checked({"RPUSH", "livelist:" + std::to_string(i), "a", "b"});
      ++written;
    }
  });
  auto v = verify(src, replica, {"--rounds", "4", "--interval", "0.5"});
  stop = true;
  writer.join();
  INFO(v.out);
  CHECK(v.exit_code == 0);
  CHECK(v.report["summary"]["divergences"] == 0);
  CHECK(v.report["summary"]["keys_compared"].get<long long>() > 6000);
  CHECK(written > 50);
  WARN("keys differing after each round: " << v.report["summary"]["differing_per_round"].dump() << " with " << written
                                           << " writes during the run");
}

TEST_CASE("every planted divergence gets its one right cause", "[verify]") {
  RedisServer src, dst;
  auto s = test::connect(src), d = test::connect(dst);
  for (int i = 0; i < 300; ++i) s->checked({"SET", "user:" + std::to_string(i), "v"});
  for (int i = 0; i < 20; ++i) s->checked({"SET", "ttl:" + std::to_string(i), "v", "PX", "3600000"});
  s->checked({"RPUSH", "queue", "a", "b", "c", "d", "e"});
  std::vector<std::string> big_list{"RPUSH", "biglist"};
  for (int i = 0; i < 3000; ++i) big_list.push_back(std::to_string(i));
  s->checked(big_list);
  s->checked({"SET", "tmp:skipped", "v"});
  std::string task = dst.dir() + "/task.json";
  // The task: everything but tmp:*, expiries extended by 60 s.
  copy_all(src, dst, {"--exclude", "tmp:*", "--ttl-extend", "60", "--report", task});

  s->checked({"SET", "soon", "v", "PX", "1500"});       // expired: gone from the target already
  d->checked({"SET", "ghost", "v"});                    // stale-extra
  d->checked({"RPUSH", "queue", "d", "e"});             // list-duplicates: a b c d e d e
  d->checked({"LINSERT", "biglist", "BEFORE", "2000", "1998"});  // in a big list, the run 1998 1999
  d->checked({"LINSERT", "biglist", "BEFORE", "2000", "1999"});  // repeated: 1998 1999 1998 1999 2000
  d->checked({"SET", "user:7", "tampered"});            // unexplained: a value nobody explains
  d->checked({"DEL", "user:8"});                        // unexplained: a key lost for no known reason

  auto v = verify(src, dst, {"--task-report", task});
  INFO(v.out);
  CHECK(v.exit_code == 1);  // user:7 and user:8 are unexplained
  auto c = causes(v.report);
  CHECK(c["soon"] == "expired");
  CHECK(c["ghost"] == "stale-extra");
  CHECK(c["queue"] == "list-duplicates");
  CHECK(c["biglist"] == "list-duplicates");
  CHECK(!c.count("tmp:skipped"));  // left out by the task's filter: not compared, not a divergence
  CHECK(v.report["summary"]["filtered"] == 1);
  CHECK(c["user:7"] == "unexplained");
  CHECK(c["user:8"] == "unexplained");
  CHECK(count(v.report, "ttl-extended") == 20);
  CHECK(count(v.report, "unexplained") == 2);
  CHECK(v.report["summary"]["divergences"] == 26);

  // The migration's own task file gives verify the same servers, filters and --ttl-extend.
  std::string toml = dst.dir() + "/task.toml";
  std::ofstream(toml) << "[source]\nuri = \"" << src.uri() << "\"\n[target]\nuri = \"" << dst.uri()
                      << "\"\n[select]\nexclude = [\"tmp:*\"]\n[write]\nttl-extend = 60\n";
  auto by_config = test::run_ferry({"verify", "--config", toml, "--interval", "0.2", "--report", dst.dir() + "/vc.json"});
  CHECK(by_config.exit_code == 1);
  auto vc = test::read_json(dst.dir() + "/vc.json");
  CHECK(vc["summary"]["filtered"] == 1);
  CHECK(count(vc, "ttl-extended") == 20);
  CHECK(count(vc, "unexplained") == 2);

  // Explained divergences alone pass, unless --strict.
  d->checked({"SET", "user:7", "v"});
  d->checked({"SET", "user:8", "v"});
  auto explained = verify(src, dst, {"--task-report", task, "--rounds", "1"});
  CHECK(explained.exit_code == 0);
  CHECK(count(explained.report, "unexplained") == 0);
  auto strict = verify(src, dst, {"--task-report", task, "--rounds", "1", "--strict"});
  CHECK(strict.exit_code == 1);
}

TEST_CASE("keys evicted by the target and keys it refused with OOM are told apart", "[verify][oom]") {
  SECTION("evicted") {
    RedisServerOptions lru;
    lru.maxmemory = "4mb";
    lru.maxmemory_policy = "allkeys-lru";
    RedisServer src, dst(lru);
    auto s = test::connect(src);
    {
      Pipeline pipe(*s);
      for (int i = 0; i < 1500; ++i) pipe.send({"SET", "k" + std::to_string(i), std::string(5000, 'x')});
    }
    copy_all(src, dst, {"--skip-check", "target-memory"});
    auto v = verify(src, dst, {"--rounds", "1"});
    INFO(v.out);
    CHECK(v.exit_code == 0);
    CHECK(count(v.report, "evicted") > 0);
    CHECK(count(v.report, "evicted") == v.report["summary"]["divergences"]);
  }
  SECTION("oom-rejected") {
    RedisServerOptions small;
    small.maxmemory = "3mb";
    small.maxmemory_policy = "noeviction";
    RedisServer src, dst(small);
    auto s = test::connect(src);
    {
      Pipeline pipe(*s);
      for (int i = 0; i < 1000; ++i) pipe.send({"SET", "k" + std::to_string(i), std::string(10000, 'x')});
    }
    std::string task = dst.dir() + "/task.json";
    auto m = run_ferry({"migrate", "--source", src.uri(), "--target", dst.uri(), "--skip-check", "target-memory",
                        "--report", task});
    REQUIRE(m.exit_code == 1);
    auto t = test::read_json(task);
    long long rejected = static_cast<long long>(t["oom_rejected"].size());
    REQUIRE(rejected > 0);
    auto v = verify(src, dst, {"--rounds", "1", "--task-report", task});
    INFO(v.out);
    CHECK(count(v.report, "oom-rejected") == rejected);
    // The keys the task never attempted after it stopped are not explained by OOM: they stay
    // unexplained, and verify fails.
    CHECK(count(v.report, "unexplained") == t["not_attempted"].get<long long>());
    CHECK(v.exit_code == (t["not_attempted"].get<long long>() > 0 ? 1 : 0));
  }
}

TEST_CASE("keys of unconfirmed scripts are explained from the task report", "[verify]") {
  RedisServer src, dst;
  auto s = test::connect(src), d = test::connect(dst);
  s->checked({"SET", "counter", "20"});
  d->checked({"SET", "counter", "19"});
  // The stream section of a sync report lists the keys declared by scripts it replayed without
  // being able to confirm their outcome (sources older than 7.0; see the sync tests).
  std::string task = dst.dir() + "/task.json";
  std::ofstream(task) << R"({"mode": "sync", "dbs": [], "stream": {"unconfirmed_script_keys": [{"db": 0, "key": "counter"}]}})";
  auto v = verify(src, dst, {"--rounds", "1", "--task-report", task});
  CHECK(v.exit_code == 0);
  CHECK(causes(v.report)["counter"] == "lua-unconfirmed");
  std::ofstream(task) << "not json";
  auto bad = run_ferry({"verify", "--source", src.uri(), "--target", dst.uri(), "--task-report", task});
  CHECK(bad.exit_code == 5);
  CHECK(bad.err.find("task.json") != std::string::npos);
}

TEST_CASE("big keys that differ in one element are found, window by window", "[verify][big]") {
  RedisServer src, dst;
  auto s = test::connect(src);
  auto add_many = [&](std::vector<std::string> head, int n, auto element) {
    std::vector<std::string> cmd = head;
    for (int i = 0; i < n; ++i)
      for (auto& e : element(i)) cmd.push_back(e);
    s->checked(cmd);
  };
  using V = std::vector<std::string>;
  add_many({"HSET", "h"}, 5000, [](int i) { return V{"f" + std::to_string(i), "v" + std::to_string(i)}; });
  add_many({"SADD", "s"}, 5000, [](int i) { return V{"m" + std::to_string(i)}; });
  add_many({"ZADD", "z"}, 5000, [](int i) { return V{std::to_string(i), "m" + std::to_string(i)}; });
  add_many({"RPUSH", "l"}, 5000, [](int i) { return V{"e" + std::to_string(i)}; });
  s->checked({"SET", "str", std::string(3 << 20, 'x')});
  for (int i = 0; i < 3000; ++i) s->checked({"XADD", "x", "*", "n", std::to_string(i)});
  copy_all(src, dst);
  auto d = test::connect(dst);
  REQUIRE(verify(src, dst, {"--rounds", "1"}).exit_code == 0);

  d->checked({"HSET", "h", "f4321", "changed"});
  d->checked({"SREM", "s", "m4321"});
  d->checked({"SADD", "s", "other"});  // same length, one member differs
  d->checked({"ZADD", "z", "4321.5", "m4321"});
  d->checked({"LSET", "l", "4321", "changed"});
  d->checked({"SETRANGE", "str", std::to_string(2 << 20), "y"});
  auto id = s->checked({"XRANGE", "x", "-", "+", "COUNT", "2500"}).elements.back().elements[0].str;
  d->checked({"XDEL", "x", id});
  d->checked({"XADD", "x", "*", "n", "2999"});  // same length, one entry gone, one new

  auto v = verify(src, dst, {"--rounds", "1", "--window", "500"});
  INFO(v.out);
  CHECK(v.exit_code == 1);
  std::map<std::string, std::string> detail;
  for (const auto& dv : v.report["divergences"]) detail[dv["key"]] = dv["detail"];
  CHECK(detail["h"].find("'f4321'") != std::string::npos);
  CHECK(detail["s"].find("'m4321'") != std::string::npos);
  CHECK(detail["z"].find("'m4321'") != std::string::npos);
  CHECK(detail["l"].find("element 4321") != std::string::npos);
  CHECK(detail["str"].find("byte 2097152") != std::string::npos);
  CHECK(detail["x"].find(id) != std::string::npos);
  CHECK(v.report["summary"]["divergences"] == 6);
}

TEST_CASE("compare levels, stream group state, DB mapping and exit codes", "[verify]") {
  RedisServer src, dst;
  auto s = test::connect(src), d = test::connect(dst);
  s->checked({"SET", "a", "1"});
  s->checked({"RPUSH", "l", "1", "2"});
  s->checked({"XADD", "x", "1-1", "f", "v"});
  s->checked({"XADD", "x", "1-2", "f", "v"});
  s->checked({"XGROUP", "CREATE", "x", "g", "0"});
  s->checked({"XREADGROUP", "GROUP", "g", "c1", "COUNT", "1", "STREAMS", "x", ">"});
  copy_all(src, dst);
  d->checked({"SET", "a", "2"});        // a value difference
  d->checked({"RPUSH", "l", "3"});      // a length difference
  SECTION("levels") {
    CHECK(verify(src, dst, {"--rounds", "1", "--compare", "outline"}).report["summary"]["divergences"] == 0);
    CHECK(verify(src, dst, {"--rounds", "1", "--compare", "length"}).report["summary"]["divergences"] == 1);
    CHECK(verify(src, dst, {"--rounds", "1", "--compare", "full"}).report["summary"]["divergences"] == 2);
  }
  SECTION("a group's entries-read is reported apart; its PEL is compared") {
    d->checked({"SET", "a", "1"});
    d->checked({"RPOP", "l"});
    d->checked({"XGROUP", "SETID", "x", "g", "1-1", "ENTRIESREAD", "7"});
    auto v = verify(src, dst, {"--rounds", "1"});
    CHECK(v.exit_code == 0);
    CHECK(v.report["summary"]["divergences"] == 0);
    CHECK(v.report["summary"]["not_reproducible"] == 1);
    d->checked({"XACK", "x", "g", "1-1"});
    auto pel = verify(src, dst, {"--rounds", "1"});
    CHECK(pel.exit_code == 1);
    CHECK(causes(pel.report)["x"] == "unexplained");
  }
  SECTION("db-map and an unreachable server") {
    RedisServer mapped;
    copy_all(src, mapped, {"--db", "0", "--db-map", "0:3"});
    CHECK(verify(src, mapped, {"--rounds", "1", "--db", "0", "--db-map", "0:3"}).exit_code == 0);
    CHECK(verify(src, mapped, {"--rounds", "1", "--db", "0"}).exit_code == 1);  // DB 0 of the target is empty
    auto down = run_ferry({"verify", "--source", src.uri(), "--target", "redis://127.0.0.1:" + std::to_string(sim::free_loopback_port())});
    CHECK(down.exit_code == 4);
  }
}

// After a cutover the source may go on taking writes: verify, given the task report, watches the
// source's stream from the task's end offset and explains those keys as after-cutover; without the
// backlog to replay from it says so and goes on as before.
TEST_CASE("writes after the cutover are explained as after-cutover", "[verify][cutover]") {
  RedisServer src, dst;
  auto s = test::connect(src);
  for (int i = 0; i < 200; ++i) s->checked({"SET", "k:" + std::to_string(i), "v"});
  std::string task = dst.dir() + "/task.json";
  REQUIRE(run_ferry({"migrate", "--mode", "sync", "--until-caught-up", "--no-heartbeat", "--source", src.uri(), "--target",
                     dst.uri(), "--report", task})
              .exit_code == 0);
  // The application goes on writing to the old server after the cutover.
  for (int i = 0; i < 30; ++i) s->checked({"SET", "k:" + std::to_string(i), "changed"});
  s->checked({"SET", "late:new", "v"});
  s->checked({"DEL", "k:199"});
  auto v = verify(src, dst, {"--task-report", task});
  INFO(v.out);
  CHECK(v.exit_code == 0);  // every divergence explained
  CHECK(count(v.report, "after-cutover") == 32);
  CHECK(count(v.report, "unexplained") == 0);
  CHECK(v.report["summary"]["after_cutover"]["watched"] == true);
  CHECK(causes(v.report)["late:new"] == "after-cutover");

  // A backlog that no longer covers the offset: said, and verify goes on without the watch.
  s->checked({"CONFIG", "SET", "repl-backlog-size", "16384"});
  for (int i = 0; i < 2000; ++i) s->checked({"SET", "filler:" + std::to_string(i % 10), std::string(200, 'x')});
  auto fallback = verify(src, dst, {"--task-report", task, "--rounds", "1"});
  CHECK(fallback.exit_code == 1);  // the later writes are unexplained now
  CHECK(fallback.report["summary"]["after_cutover"]["watched"] == false);
  CHECK_THAT(fallback.report["summary"]["after_cutover"]["not_watched"].get<std::string>(),
             Catch::Contains("backlog no longer covers"));
}
