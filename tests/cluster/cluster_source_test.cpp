// A Redis Cluster as the source, against real clusters (sim::Topology): a sync read from replicas
// under the write load through a source failover and a 500-slot source reshard into one server;
// cluster to cluster with a failover on each side; scan and snapshot per shard; a restarted task
// resuming every shard from the one state file; --shards splitting a task over two processes;
// which node --source-read reads, and the precheck's per-shard rules.
#include "cluster/cluster_support.h"
#include "redis/dialer.h"
#include "support.h"
#include "target/target.h"
#include "topology/topology.h"
#include "workload/load_generator.h"
#include "workload/mixed_dataset.h"

#include <fmt/format.h>

#include <atomic>
#include <fstream>
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

// A mixed dataset of every type, each key written on its slot's master.
void fill_cluster(const RedisServer& seed, uint64_t seed_value, size_t keys) {
  const Dialer dialer;
  auto target = open_target(dialer, seed.endpoint("load"), PipelineLimits{});
  sim::MixedDatasetOptions o;
  o.seed = seed_value;
  o.dbs = {0};
  o.keys_per_db = keys;
  sim::fill_mixed_dataset(*target, o);
}

// Until ferry streams from every shard: the node it reads has it as an online replica.
void wait_streaming(const std::vector<const RedisServer*>& read_nodes) {
  for (const RedisServer* node : read_nodes) test::wait_for_replica(*test::connect(*node), 60);
}

std::vector<std::string> sync_args(const RedisServer& src, const std::string& target, std::vector<std::string> extra) {
  std::vector<std::string> a{"migrate", "--mode", "sync", "--source", uri(src), "--target", target};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

}  // namespace

TEST_CASE("a 3x1 cluster source read from replicas syncs into one server under the write load, through a source "
          "failover and a 500-slot source reshard",
          "[cluster-source][sync]") {
  Topology src(cluster_spec(3, 1));
  fill_cluster(src.master(0), 51, 3000);
  RedisServer dst;
  const std::string report = dst.dir() + "/r.json";
  const std::string state = dst.dir() + "/state.json";
  BackgroundFerry ferry(sync_args(src.master(0), dst.uri(), {"--source-read", "replica", "--report", report, "--state", state}));
  wait_streaming({&src.replica(0, 0), &src.replica(0, 1), &src.replica(0, 2)});
  BackgroundLoad load(src.master(0), 52, 1500);
  std::this_thread::sleep_for(std::chrono::seconds(2));

  // Shard 1's replica, which ferry reads, takes over: ferry goes on reading it, now the master.
  const int old_master = src.master(1).port();
  src.failover(1);
  CHECK(src.master(1).port() != old_master);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  // 500 slots and their keys move from shard 0 to shard 2 while the load writes to them: the
  // RESTOREs on shard 2 and the DELs on shard 0 come in two streams.
  auto moved = src.reshard(0, 2, 500);
  CHECK(moved.keys > 0);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto stats = load.stop();
  CHECK(stats.commands > 1000);

  auto equal = wait_equal(src.master(0), dst, 60);
  auto r = ferry.stop();
  INFO(r.out << r.err);
  INFO(equal.summary());
  CHECK(equal.keys_checked > 3000);
  REQUIRE(equal.equal());
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find(test::kClusterPassword) == std::string::npos);
  CHECK(r.err.find(test::kClusterPassword) == std::string::npos);
  auto j = test::read_json(report);
  REQUIRE(j["shards"].size() == 3);
  CHECK(j["stream"]["errors"] == 0);
  CHECK(j["stream"]["unapplied"] == 0);
  CHECK(j["full_resyncs"] == 0);
  CHECK(j["stream"]["moved_keys"].get<long long>() > 0);  // the reshard's RESTOREs, in order
  CHECK(r.err.find("slot(s) changed shards") != std::string::npos);
  // Each shard was read from a replica, and kept its own offsets.
  for (const auto& shard : j["shards"]) {
    INFO(shard["shard"]);
    CHECK(shard["applied_offset"].get<long long>() > 0);
    CHECK(shard["source"].get<std::string>().find("shard") != std::string::npos);
  }
  CHECK(r.err.find("(a replica)") != std::string::npos);
  // The state file has an entry per shard, each with its nodes.
  auto st = test::read_json(state);
  REQUIRE(st["shards"].size() == 3);
  for (const auto& e : st["shards"]) CHECK(e["nodes"].size() == 2);
}

TEST_CASE("cluster to cluster under the write load, with a failover on each side", "[cluster-source][sync]") {
  Topology src(cluster_spec(3, 1));
  fill_cluster(src.master(0), 61, 2000);
  Topology dst(cluster_spec(3, 1));
  const std::string report = dst.master(0).dir() + "/r.json";
  BackgroundFerry ferry(sync_args(src.master(0), uri(dst.master(0)), {"--report", report}));
  wait_streaming({&src.master(0), &src.master(1), &src.master(2)});
  BackgroundLoad load(src.master(0), 62, 1500);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  src.failover(0);  // ferry's link to shard 0 breaks: a partial resync from the promoted replica
  std::this_thread::sleep_for(std::chrono::seconds(1));
  dst.failover(2);  // the target's writes follow MOVED
  std::this_thread::sleep_for(std::chrono::seconds(2));
  load.stop();

  auto equal = wait_equal(src.master(0), dst.master(0), 60);
  auto r = ferry.stop();
  INFO(r.out << r.err);
  INFO(equal.summary());
  REQUIRE(equal.equal());
  REQUIRE(r.exit_code == 0);
  auto j = test::read_json(report);
  CHECK(j["full_resyncs"] == 0);
  CHECK(j["partial_resyncs"].get<long long>() >= 1);
  CHECK(j["stream"]["errors"] == 0);
}

TEST_CASE("scan and snapshot read a cluster source shard by shard, from masters or replicas", "[cluster-source]") {
  Topology src(cluster_spec(3, 1));
  fill_cluster(src.master(0), 71, 1500);
  ServerGroup source = test::group_of(src.master(0));
  for (const char* mode : {"scan", "snapshot"})
    for (const char* read : {"master", "prefer-replica"}) {
      INFO(mode << " " << read);
      RedisServer dst;
      auto r = run_ferry({"migrate", "--mode", mode, "--source", uri(src.master(2)), "--target", dst.uri(), "--source-read",
                          read, "--report", dst.dir() + "/r.json"});
      INFO(r.err);
      REQUIRE(r.exit_code == 0);
      ServerGroup target = test::group_of(dst);
      ComparisonOptions options;
      // A replica holds no consumer group's entries-read (its master replicates XREADGROUP as
      // XCLAIM): read from one, it is not known, as after any sync.
      options.group_entries_read = std::string(read) == "master";
      test::require_identical(source, target, options);
      auto j = test::read_json(dst.dir() + "/r.json");
      CHECK(j["shards"].size() == 3);
      CHECK(j["copied"].get<long long>() > 1000);
      CHECK(r.err.find(std::string(read) == "master" ? "(the master" : "(a replica") != std::string::npos);
    }
}

TEST_CASE("rdb mode imports one file per shard of a cluster (--rdb repeated)", "[cluster-source][rdb]") {
  Topology src(cluster_spec(3, 0));
  fill_cluster(src.master(0), 75, 1500);
  std::vector<std::string> a{"migrate", "--mode", "rdb"};
  for (size_t shard = 0; shard < 3; ++shard) {
    test::connect(src.master(shard))->checked({"SAVE"});
    a.push_back("--rdb");
    a.push_back(src.master(shard).dir() + "/dump.rdb");
  }
  RedisServer dst;
  a.insert(a.end(), {"--target", dst.uri(), "--report", dst.dir() + "/r.json"});
  auto r = run_ferry(a);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  ServerGroup source = test::group_of(src.master(0));
  ServerGroup target = test::group_of(dst);
  test::require_identical(source, target);
  auto j = test::read_json(dst.dir() + "/r.json");
  CHECK(j["source"].get<std::string>().find("3 RDB files") != std::string::npos);
  CHECK(j["copied"].get<long long>() >= 1500);
}

TEST_CASE("a restarted sync resumes every shard of a cluster source from the one state file", "[cluster-source][sync]") {
  Topology src(cluster_spec(3, 0));
  fill_cluster(src.master(0), 81, 1000);
  RedisServer dst;
  const std::string state = dst.dir() + "/state.json";
  const std::string report = dst.dir() + "/r.json";
  auto first = run_ferry(sync_args(src.master(0), dst.uri(), {"--until-caught-up", "--state", state}));
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  fill_cluster(src.master(0), 82, 300);  // written while no ferry runs
  auto second = run_ferry(sync_args(src.master(0), dst.uri(), {"--until-caught-up", "--state", state, "--report", report}));
  INFO(second.err);
  REQUIRE(second.exit_code == 0);
  auto j = test::read_json(report);
  CHECK(j["resumed_from_state"] == true);
  CHECK(j["full_resyncs"] == 0);
  for (const auto& shard : j["shards"]) {
    CHECK(shard["resumed_from_state"] == true);
    CHECK(shard["copied"] == 0);  // no snapshot: the stream from where the shard stood
  }
  auto equal = wait_equal(src.master(0), dst, 30);
  INFO(equal.summary());
  CHECK(equal.equal());
}

TEST_CASE("a cluster source split over two processes with --shards, their reports merged", "[cluster-source]") {
  Topology src(cluster_spec(3, 0));
  fill_cluster(src.master(0), 91, 1500);
  RedisServer dst;
  auto a = run_ferry({"migrate", "--mode", "snapshot", "--source", uri(src.master(0)), "--target", dst.uri(), "--shards",
                      "0,2", "--report", dst.dir() + "/a.json"});
  INFO(a.err);
  REQUIRE(a.exit_code == 0);
  // The second process finds the target holding the first one's keys: the other shards' keys
  // are not its conflicts, so it replaces (the keys are disjoint by slot).
  auto b = run_ferry({"migrate", "--mode", "snapshot", "--source", uri(src.master(1)), "--target", dst.uri(), "--shards",
                      "1", "--on-conflict", "replace", "--report", dst.dir() + "/b.json"});
  INFO(b.err);
  REQUIRE(b.exit_code == 0);
  CHECK(test::read_json(dst.dir() + "/a.json")["shards"].size() == 2);
  CHECK(test::read_json(dst.dir() + "/b.json")["shards"].size() == 1);
  ServerGroup source = test::group_of(src.master(0));
  ServerGroup target = test::group_of(dst);
  test::require_identical(source, target);

  // The two processes' reports combine into one task's.
  auto merged = run_ferry({"report", "merge", dst.dir() + "/a.json", dst.dir() + "/b.json", "--output", dst.dir() + "/m.json"});
  INFO(merged.err);
  CHECK(merged.exit_code == 0);
  auto m = test::read_json(dst.dir() + "/m.json");
  CHECK(m["shards"].size() == 3);
  CHECK(m["complete"] == true);
  CHECK(m["copied"].get<long long>() == test::read_json(dst.dir() + "/a.json")["copied"].get<long long>() +
                                            test::read_json(dst.dir() + "/b.json")["copied"].get<long long>());
  CHECK(m["copied"].get<long long>() >= 1500);
  CHECK(merged.err.find("3 shard(s)") != std::string::npos);
  std::ofstream(dst.dir() + "/other.json") << R"({"mode": "scan", "copied": 1, "complete": true})";
  auto mixed = run_ferry({"report", "merge", dst.dir() + "/a.json", dst.dir() + "/other.json"});
  CHECK(mixed.exit_code == 3);
  CHECK(mixed.err.find("other.json is of mode scan") != std::string::npos);

  auto bad = run_ferry({"migrate", "--mode", "snapshot", "--source", uri(src.master(0)), "--target", dst.uri(), "--shards",
                        "7"});
  CHECK(bad.exit_code == 3);
  CHECK(bad.err.find("--shards 7") != std::string::npos);
}

TEST_CASE("precheck of a cluster source: every shard's node to read, PSYNC allowed, a replica with its link down refused",
          "[cluster-source][precheck]") {
  Topology src(cluster_spec(3, 1));
  fill_cluster(src.master(0), 95, 300);
  RedisServer dst;
  auto precheck = [&](std::vector<std::string> extra) {
    std::vector<std::string> a{"precheck", "--mode", "sync", "--source", uri(src.master(0)), "--target", dst.uri()};
    a.insert(a.end(), extra.begin(), extra.end());
    return run_ferry(a);
  };
  auto ok = precheck({"--source-read", "replica"});
  INFO(ok.out);
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("3 shard(s)") != std::string::npos);
  CHECK(ok.out.find(fmt::format("127.0.0.1:{} (replica)", src.replica(0, 1).port())) != std::string::npos);

  // Shard 1's replica loses its master link (a wrong masterauth, and the link cut): it would
  // answer PSYNC with -NOMASTERLINK. --source-read replica fails naming the shard;
  // prefer-replica reads its master.
  auto replica = test::connect(src.replica(0, 1));
  replica->checked({"CONFIG", "SET", "masterauth", "wrong"});
  replica->checked({"CLIENT", "KILL", "TYPE", "master"});
  auto down = [&] { return replica->info("replication")["master_link_status"] != "up"; };
  for (int i = 0; i < 100 && !down(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(down());
  auto refused = precheck({"--source-read", "replica"});
  INFO(refused.out);
  CHECK(refused.exit_code != 0);
  CHECK(refused.out.find("shard 1") != std::string::npos);
  CHECK(refused.out.find("master link") != std::string::npos);
  auto prefer = precheck({"--source-read", "prefer-replica"});
  INFO(prefer.out);
  CHECK(prefer.exit_code == 0);
  CHECK(prefer.out.find(fmt::format("from 127.0.0.1:{}", src.master(1).port())) != std::string::npos);
  CHECK(prefer.out.find(test::kClusterPassword) == std::string::npos);
  replica->checked({"CONFIG", "SET", "masterauth", test::kClusterPassword});
}
