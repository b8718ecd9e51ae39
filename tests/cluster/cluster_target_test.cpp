// A Redis Cluster as the destination, against real clusters (sim::Topology): a sync under the write
// load through a target failover and a 500-slot reshard, the copy modes, transactions across slots
// (--cross-slot stop and split), a shard out of memory named, the precheck's cluster rules, and
// verify between a standalone server and a cluster both ways.
#include "cluster/cluster_support.h"
#include "support.h"
#include "target/cluster_slots.h"
#include "topology/topology.h"
#include "workload/load_generator.h"
#include "workload/mixed_dataset.h"

#include <fmt/format.h>

#include <atomic>
#include <thread>

using namespace ferry;
using ferry::sim::RedisServer;
using ferry::sim::Topology;
using ferry::test::BackgroundFerry;
using ferry::test::BackgroundLoad;
using ferry::test::cluster_spec;
using ferry::test::kMigrateTtlSkewMs;
using ferry::test::run_ferry;
using ferry::test::uri;
using ferry::test::wait_equal;

namespace {

std::vector<std::string> args(const RedisServer& src, const std::string& target_uri, const char* mode,
                              std::vector<std::string> extra = {}) {
  std::vector<std::string> a{"migrate", "--mode", mode, "--source", src.uri(), "--target", target_uri};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// A mixed dataset of every type in DB 0 (a cluster has DB 0 only).
void fill(Connection& conn, uint64_t seed, size_t keys) {
  sim::MixedDatasetOptions o;
  o.seed = seed;
  o.dbs = {0};
  o.keys_per_db = keys;
  sim::fill_mixed_dataset(conn, o);
}

long long keys_on(RedisServer& server) { return test::connect(server)->checked({"DBSIZE"}).integer; }

}  // namespace

TEST_CASE("sync into a 3x1 cluster under the write load, through a target failover and a 500-slot reshard",
          "[cluster][sync]") {
  RedisServer src;
  auto s = test::connect(src);
  fill(*s, 21, 3000);
  Topology cluster(cluster_spec(3, 1));
  std::string report = src.dir() + "/r.json";
  BackgroundFerry ferry(args(src, uri(cluster.master(0)), "sync", {"--report", report}));
  BackgroundLoad load(src, 22, 1500);
  test::wait_for_replica(*s, 60);
  std::this_thread::sleep_for(std::chrono::seconds(2));

  // Shard 1's replica takes over while ferry writes to it: ferry follows the MOVED replies.
  const int old_master = cluster.master(1).port();
  cluster.failover(1);
  CHECK(cluster.master(1).port() != old_master);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  // 500 slots (and their keys) move from shard 0 to shard 2 while ferry writes: ASK, then MOVED.
  auto moved = cluster.reshard(0, 2, 500);
  CHECK(moved.slots == 500);
  CHECK(moved.keys > 0);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto stats = load.stop();
  CHECK(stats.commands > 1000);

  auto equal = wait_equal(src, cluster.master(0), 60);
  auto r = ferry.stop();
  INFO(r.out << r.err);
  INFO(equal.summary());
  CHECK(equal.keys_checked > 3000);
  REQUIRE(equal.equal());
  REQUIRE(r.exit_code == 0);
  auto j = test::read_json(report);
  CHECK(j["stream"]["errors"] == 0);
  CHECK(j["stream"]["unapplied"] == 0);
  CHECK(j["full_resyncs"] == 0);  // the target's failover and reshard did not cost a resync
  // The writes that reached a moved slot or the demoted master were redirected, and followed.
  CHECK(j["routing"]["moved"].get<long long>() + j["routing"]["ask"].get<long long>() > 0);
  CHECK(r.out.find("MOVED and") != std::string::npos);
  // Every master took writes: the keys are spread by slot.
  for (size_t shard = 0; shard < 3; ++shard) CHECK(keys_on(cluster.master(shard)) > 500);
}

TEST_CASE("snapshot, scan and rdb modes copy every type into a cluster, each key on its slot's master", "[cluster]") {
  RedisServer src;
  auto s = test::connect(src);
  fill(*s, 31, 1500);
  s->checked({"SAVE"});
  const std::string rdb = src.dir() + "/dump.rdb";
  ServerGroup source = test::group_of(src);
  for (const char* mode : {"snapshot", "scan", "rdb"}) {
    INFO(mode);
    Topology cluster(cluster_spec(3, 0));
    auto r = std::string(mode) == "rdb"
                 ? run_ferry({"migrate", "--mode", "rdb", "--rdb", rdb, "--target", uri(cluster.master(1))})
                 : run_ferry(args(src, uri(cluster.master(1)), mode));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    ServerGroup target = test::group_of(cluster.master(0));
    test::require_identical(source, target);
    for (size_t shard = 0; shard < 3; ++shard) CHECK(keys_on(cluster.master(shard)) > 300);
  }
}

TEST_CASE("a transaction across slots stops the sync naming its offset, or with --cross-slot split is applied per slot",
          "[cluster][sync]") {
  const std::string a = "xs:a", b = "xs:b";  // in different slots
  REQUIRE(key_slot(a) != key_slot(b));
  for (const char* mode : {"stop", "split"}) {
    INFO(mode);
    RedisServer src;
    auto s = test::connect(src);
    s->checked({"SET", "before", "1"});
    Topology cluster(cluster_spec(3, 0));
    std::string report = src.dir() + "/r.json", state = src.dir() + "/state.json";
    BackgroundFerry ferry(
        args(src, uri(cluster.master(0)), "sync", {"--cross-slot", mode, "--report", report, "--state", state}));
    test::wait_for_replica(*s, 30);
    s->checked({"MULTI"});
    s->checked({"SET", a, "1"});
    s->checked({"SET", b, "2"});
    s->checked({"EXEC"});
    s->checked({"SET", "after", "3"});
    if (std::string(mode) == "stop") {
      auto r = ferry.wait(30);
      CHECK(r.exit_code == 1);
      CHECK(r.err.find("offset") != std::string::npos);
      CHECK(r.err.find("xs:a") != std::string::npos);
      CHECK(r.err.find("--cross-slot split") != std::string::npos);
      ServerGroup target = test::group_of(cluster.master(0));
      CHECK(target.for_key("after").command({"EXISTS", "after"}).integer == 0);  // nothing past the transaction
      // The state file points before the transaction: run again with split, and it resumes there.
      BackgroundFerry again(
          args(src, uri(cluster.master(0)), "sync", {"--cross-slot", "split", "--report", report, "--state", state}));
      auto equal = wait_equal(src, cluster.master(0), 20);
      INFO(equal.summary());
      CHECK(equal.equal());
      auto resumed = again.stop();
      INFO(resumed.err);
      CHECK(resumed.exit_code == 0);
      CHECK(resumed.err.find("partial resync") != std::string::npos);
      CHECK(test::read_json(report)["stream"]["split"] == 1);
    } else {
      auto equal = wait_equal(src, cluster.master(0), 20);
      INFO(equal.summary());
      CHECK(equal.equal());
      REQUIRE(ferry.stop().exit_code == 0);
      CHECK(test::read_json(report)["stream"]["split"].get<long long>() >= 1);
    }
  }
}

TEST_CASE("a shard out of memory stops the copy naming the shard, its slots and the key", "[cluster][oom]") {
  RedisServer src;
  auto s = test::connect(src);
  {
    Pipeline pipe(*s);
    for (int i = 0; i < 3000; ++i) pipe.send({"SET", fmt::format("big:{}", i), std::string(2000, 'x')});
  }
  Topology cluster(cluster_spec(3, 0));
  cluster.set_shard_maxmemory(1, "3mb", "noeviction");
  const std::string slots = cluster.slots_of(1);
  auto r = run_ferry(args(src, uri(cluster.master(0)), "scan", {"--skip-check", "target-memory"}));
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(fmt::format("target shard 127.0.0.1:{} (slots {}) is out of memory", cluster.master(1).port(), slots)) !=
        std::string::npos);
  CHECK(r.err.find("key 'big:") != std::string::npos);
  CHECK(r.err.find("cluster-secret") == std::string::npos);
}

TEST_CASE("precheck of a cluster target: one DB (0, or mapped to 0), every slot covered, memory per shard",
          "[cluster][precheck]") {
  RedisServer src;
  auto s = test::connect(src);
  fill(*s, 41, 200);
  s->select(2);
  s->checked({"SET", "in-db-2", "x"});
  s->select(0);
  Topology cluster(cluster_spec(3, 0));
  const std::string target = uri(cluster.master(2));

  auto precheck = [&](std::vector<std::string> extra) {
    std::vector<std::string> a{"precheck", "--source", src.uri(), "--target", target};
    a.insert(a.end(), extra.begin(), extra.end());
    return run_ferry(a);
  };
  auto both = precheck({});
  CHECK(both.exit_code == 1);
  CHECK(both.out.find("DB 0 only") != std::string::npos);
  auto only2 = precheck({"--db", "2"});
  CHECK(only2.exit_code == 1);
  CHECK(only2.out.find("--db-map 2:0") != std::string::npos);
  auto mapped = precheck({"--db", "2", "--db-map", "2:0"});
  INFO(mapped.out);
  CHECK(mapped.exit_code == 0);
  auto db0 = precheck({"--db", "0"});
  INFO(db0.out);
  CHECK(db0.exit_code == 0);
  CHECK(db0.out.find("3 masters") != std::string::npos);

  // One shard without room for its share of the keys fails the memory check by name, though the
  // cluster's free memory in sum would hold them all.
  auto shard1 = test::connect(cluster.master(1));
  const long long used = std::atoll(shard1->info("memory")["used_memory"].c_str());
  shard1->checked({"CONFIG", "SET", "maxmemory", std::to_string(used + 4096)});
  auto tight = precheck({"--db", "0"});
  INFO(tight.out);
  CHECK(tight.exit_code == 1);
  CHECK(tight.out.find(fmt::format("127.0.0.1:{}", cluster.master(1).port())) != std::string::npos);
  shard1->checked({"CONFIG", "SET", "maxmemory", "0"});

  // A slot no master serves: the cluster is not ok and the precheck says which slots.
  test::connect(cluster.master(2))->checked({"CLUSTER", "DELSLOTS", "16383"});
  auto uncovered = precheck({"--db", "0"});
  INFO(uncovered.out);
  CHECK(uncovered.exit_code == 1);
  CHECK(uncovered.out.find("16383") != std::string::npos);
  CHECK(uncovered.out.find("cluster-secret") == std::string::npos);
}

TEST_CASE("verify compares a standalone server with a cluster key by key, both ways, and names a difference",
          "[cluster][verify]") {
  RedisServer src;
  auto s = test::connect(src);
  fill(*s, 51, 800);
  Topology cluster(cluster_spec(3, 0));
  REQUIRE(run_ferry(args(src, uri(cluster.master(0)), "scan")).exit_code == 0);

  for (bool cluster_is_target : {true, false}) {
    INFO((cluster_is_target ? "standalone -> cluster" : "cluster -> standalone"));
    const std::string a = cluster_is_target ? src.uri() : uri(cluster.master(1));
    const std::string b = cluster_is_target ? uri(cluster.master(1)) : src.uri();
    auto same = run_ferry({"verify", "--source", a, "--target", b});
    INFO(same.out << same.err);
    CHECK(same.exit_code == 0);
  }
  // One value changed on the cluster: named with its shard.
  ServerGroup target = test::group_of(cluster.master(0));
  const std::string key = "changed-on-target";
  s->checked({"SET", key, "source"});
  target.for_key(key).checked({"SET", key, "target"});
  auto differ = run_ferry({"verify", "--source", src.uri(), "--target", uri(cluster.master(0)), "--rounds", "1"});
  INFO(differ.out << differ.err);
  CHECK(differ.exit_code == 1);
  CHECK((differ.out + differ.err).find(key) != std::string::npos);
}
