// The simulator's pieces together: a source with replicas, the fault proxy in front of it, a
// destination with 50 MB maxmemory; a seeded write load of every command while ferry syncs through
// the proxy with faults on a timeline; the destination and the source's replicas end equal to the
// source, and nothing is left running. And OOM conditions on the destination: under noeviction with
// maxmemory lowered during the run, under allkeys-lru and volatile-lru.
#include "proxy/fault_proxy.h"
#include "support.h"
#include "topology/topology.h"
#include "workload/load_generator.h"

#include <signal.h>

#include <cerrno>
#include <thread>

using namespace ferry;
using namespace ferry::sim;
using ferry::test::BackgroundFerry;

namespace {

bool alive(int pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

LoadOptions load_options(uint64_t seed, double seconds) {
  LoadOptions o;
  o.seed = seed;
  o.rate = 3000;
  o.duration_s = seconds;
  o.dbs = {0, 1};
  return o;
}

}  // namespace

TEST_CASE("source with replicas, proxy in front, a 50 MB destination, a seeded load and faults on a timeline", "[sim]") {
  std::vector<int> pids;
  {
    TopologySpec spec;
    spec.replicas = 2;
    Topology source(spec);
    RedisServerOptions small;
    small.maxmemory = "50mb";
    small.maxmemory_policy = "noeviction";
    RedisServer destination(small);
    for (auto* s : source.servers()) pids.push_back(s->pid());
    pids.push_back(destination.pid());

    FaultProxy proxy("127.0.0.1", source.master().port(), FaultProxyOptions{0, 5});
    std::string report = destination.dir() + "/task.json";
    // No heartbeat: its key on the source would make the whole-server DEBUG DIGESTs differ.
    BackgroundFerry ferry({"migrate", "--mode", "sync", "--source", proxy.uri(), "--target", destination.uri(),
                           "--no-heartbeat", "--report", report});
    pids.push_back(ferry.pid());
    auto s = test::connect(source.master());
    test::wait_for_replica(*s, 60);

    // The timeline, from now: slow, cut, held, sliced.
    for (const char* fault : {"latency:ms=20,jitter=10,at=300,for=800", "reset:at=1200", "blackhole:at=1800,for=600",
                              "slicer:size=64,dir=down,at=2600,for=600", "bandwidth:rate=256K,dir=down,at=3300,for=400"})
      proxy.add(fault);
    LoadGenerator load(load_options(2026, 4));
    LoadStats stats = load.run(*s);
    CHECK(stats.commands > 5000);

    // Keys that expired during the run are deleted when touched: a full SCAN of the master does it
    // now, and the DELs reach the replicas and the destination (replicas never expire by themselves).
    for (int db : {0, 1}) {
      s->select(db);
      std::string cursor = "0";
      do cursor = s->checked({"SCAN", cursor, "COUNT", "1000"}).elements[0].str;
      while (cursor != "0");
    }
    s->select(0);
    ComparisonOptions cmp;
    cmp.group_entries_read = false;
    auto d = test::connect(destination);
    ComparisonResult eq = test::wait_until_equal(*s, *d, cmp, 60);
    INFO(eq.summary());
    CHECK(eq.equal());
    for (size_t i = 0; i < source.replica_count(); ++i) {  // the source's own replicas agree too
      auto r = test::connect(source.replica(i));
      ComparisonResult req = test::wait_until_equal(*s, *r, cmp, 30);
      INFO("replica " << i << ": " << req.summary());
      CHECK(req.equal());
    }
    CHECK(proxy.stats().resets >= 1);
    auto r = ferry.stop();
    CHECK(r.exit_code == 0);
    auto j = test::read_json(report);
    CHECK(j["stream"]["errors"] == 0);
    WARN(stats.commands << " commands (" << stats.errors << " error replies); ferry " << j["retries"] << " retries, "
                        << j["partial_resyncs"] << " partial resyncs; proxy " << proxy.stats().connections << " connections");
  }
  for (int pid : pids) {
    INFO("pid " << pid);
    CHECK_FALSE(alive(pid));
  }
}

TEST_CASE("a destination out of memory: noeviction with maxmemory lowered mid-run, allkeys-lru, volatile-lru", "[sim][oom]") {
  RedisServer src;
  auto s = test::connect(src);
  SECTION("noeviction, maxmemory lowered during the run: the task stops naming OOM") {
    RedisServerOptions o;
    o.maxmemory = "100mb";
    o.maxmemory_policy = "noeviction";
    RedisServer dst(o);
    std::string report = dst.dir() + "/task.json";
    BackgroundFerry ferry({"migrate", "--mode", "sync", "--source", src.uri(), "--target", dst.uri(), "--no-heartbeat",
                           "--report", report});
    test::wait_for_replica(*s, 30);
    auto d = test::connect(dst);
    long long used = std::atoll(d->info("memory")["used_memory"].c_str());
    d->checked({"CONFIG", "SET", "maxmemory", std::to_string(used + 200000)});  // lowered under the load to come
    LoadOptions lo = load_options(9, 0);
    lo.max_commands = 4000;
    lo.weights = {{"big", 1}, {"push", 1}};
    LoadGenerator load(lo);
    load.run(*s);
    auto r = ferry.wait(30);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("OOM") != std::string::npos);
    auto j = test::read_json(report);
    CHECK(j["stream"]["oom_rejected"].size() >= 1);
  }
  SECTION("allkeys-lru and volatile-lru evict; verify explains what is missing") {
    bool all_keys = GENERATE(true, false);
    RedisServerOptions o;
    o.maxmemory = "2mb";
    o.maxmemory_policy = all_keys ? "allkeys-lru" : "volatile-lru";
    RedisServer dst(o);
    BackgroundFerry ferry({"migrate", "--mode", "sync", "--source", src.uri(), "--target", dst.uri(), "--no-heartbeat",
                           "--accept-warnings", "--skip-check", "target-memory"});  // too small on purpose
    test::wait_for_replica(*s, 30);
    LoadOptions lo = load_options(10, 0);
    lo.max_commands = 30000;
    lo.keyspace = 30000;  // mostly new keys: what is evicted stays missing
    lo.rate = 0;
    lo.weights = {{"expiry", 1}};  // every key it writes has an expiry: volatile-lru can evict each
    LoadGenerator load(lo);
    load.run(*s);
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    auto d = test::connect(dst);
    INFO(o.maxmemory_policy);
    CHECK(std::atoll(d->info("stats")["evicted_keys"].c_str()) > 0);
    CHECK(ferry.stop().exit_code == 0);
    auto v = test::run_ferry({"verify", "--source", src.uri(), "--target", dst.uri(), "--rounds", "2", "--interval", "0.3",
                              "--report", dst.dir() + "/v.json"});
    CHECK(v.exit_code == 0);  // every divergence explained: evicted (or expired)
    auto vj = test::read_json(dst.dir() + "/v.json");
    CHECK(vj["summary"]["by_cause"]["evicted"].get<long long>() > 0);
  }
}
