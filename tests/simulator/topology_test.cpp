// Topologies start, link their replicas, and leave no process behind; clusters come up covered and
// ok, fail over and reshard (also under a writer) as the cluster itself reports; `ferry sim
// servers` does the same from the command line.
#include "support.h"
#include "target/cluster_slots.h"
#include "topology/topology.h"

#include <fmt/format.h>

#include <signal.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <map>
#include <thread>

using namespace ferry;
using namespace ferry::sim;

namespace {

using Clock = std::chrono::steady_clock;

bool alive(int pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

TopologySpec cluster_spec(int masters, int replicas, const std::string& binary = {}) {
  TopologySpec spec;
  spec.master.binary = binary;
  spec.master.requirepass = "cluster-secret";  // AUTH everywhere, masterauth, MIGRATE ... AUTH
  spec.cluster_masters = masters;
  spec.replicas = replicas;
  spec.cluster_node_timeout_ms = 1000;
  spec.link_timeout_seconds = 20;
  return spec;
}

// CLUSTER INFO's own format is "key:value" lines (not INFO's sections).
std::map<std::string, std::string> cluster_info_command(const RedisServer& s) {
  std::map<std::string, std::string> out;
  std::string text = test::connect(s)->checked({"CLUSTER", "INFO"}).str;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find("\r\n", pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    auto colon = line.find(':');
    if (colon != std::string::npos) out[line.substr(0, colon)] = line.substr(colon + 1);
    pos = end + 2;
  }
  return out;
}

std::string role(const RedisServer& s) { return test::connect(s)->checked({"ROLE"}).elements.at(0).str; }

// Writes `n` keys "k:<i>" = "v<i>", each through the master of its shard; returns key -> shard.
std::map<std::string, size_t> write_keys(Topology& t, int n) {
  std::map<std::string, size_t> where;
  std::vector<std::unique_ptr<Connection>> conns;
  for (size_t s = 0; s < t.shard_count(); ++s) conns.push_back(test::connect(t.master(s)));
  std::vector<std::unique_ptr<Pipeline>> pipes;
  for (auto& c : conns) pipes.push_back(std::make_unique<Pipeline>(*c));
  for (int i = 0; i < n; ++i) {
    std::string key = fmt::format("k:{}", i);
    size_t shard = t.shard_of_key(key);
    where[key] = shard;
    pipes[shard]->send({"SET", key, fmt::format("v{}", i)}, [key](Reply&& r) {
      if (r.is_error()) FAIL("SET " << key << ": " << r.str);
    });
  }
  for (auto& p : pipes) p->drain();
  return where;
}

void wait_for_dbsize(const RedisServer& s, long long want, double seconds = 10) {
  auto c = test::connect(s);
  auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (c->checked({"DBSIZE"}).integer != want && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(c->checked({"DBSIZE"}).integer == want);
}

}  // namespace

TEST_CASE("a master with replicas replicates, and every server is gone after", "[sim][topology]") {
  std::vector<int> pids;
  {
    TopologySpec spec;
    spec.master.maxmemory = "50mb";
    spec.master.maxmemory_policy = "noeviction";
    spec.master.requirepass = "topology-secret";
    spec.master.config = {{"repl-backlog-size", "2mb"}, {"repl-diskless-sync", "yes"}, {"list-max-listpack-size", "4"}};
    spec.replicas = 2;
    Topology t(spec);
    REQUIRE(t.replica_count() == 2);
    CHECK_FALSE(t.is_cluster());
    CHECK(t.shard_count() == 1);
    CHECK_THROWS_WITH(t.failover(0), Catch::Contains("not a Redis Cluster"));
    for (auto* s : t.servers()) pids.push_back(s->pid());
    auto m = test::connect(t.master());
    m->checked({"RPUSH", "l", "a", "b", "c", "d", "e"});
    CHECK(m->checked({"OBJECT", "ENCODING", "l"}).str == "quicklist");  // the encoding threshold applies
    for (size_t i = 0; i < 2; ++i) {
      auto r = test::connect(t.replica(i));
      for (int n = 0; n < 100 && r->checked({"LLEN", "l"}).integer != 5; ++n)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      CHECK(r->checked({"LLEN", "l"}).integer == 5);
      CHECK(r->info("replication")["role"] == "slave");
    }
    CHECK(t.describe().find("topology-secret") == std::string::npos);
    for (int pid : pids) CHECK(alive(pid));
  }
  for (int pid : pids) CHECK_FALSE(alive(pid));
}

TEST_CASE("a 3x1 cluster comes up covered and ok, and keys land on their slot's master", "[sim][topology][cluster]") {
  std::vector<int> pids;
  {
    auto started = Clock::now();
    Topology t(cluster_spec(3, 1));
    double up = seconds_since(started);
    UNSCOPED_INFO("3x1 cluster up in " << up << " s");
    REQUIRE(t.is_cluster());
    REQUIRE(t.shard_count() == 3);
    REQUIRE(t.servers().size() == 6);
    for (auto* s : t.servers()) {
      pids.push_back(s->pid());
      auto info = cluster_info_command(*s);
      CHECK(info["cluster_state"] == "ok");
      CHECK(info["cluster_slots_assigned"] == "16384");
      CHECK(info["cluster_slots_ok"] == "16384");
      CHECK(info["cluster_known_nodes"] == "6");
      CHECK(info["cluster_size"] == "3");
      CHECK(std::filesystem::exists(std::filesystem::path(s->dir()) / "nodes.conf"));
    }
    CHECK(t.slots_of(0) == "0-5460");
    CHECK(t.slots_of(1) == "5461-10922");
    CHECK(t.slots_of(2) == "10923-16383");
    for (size_t s = 0; s < 3; ++s) {
      CHECK(role(t.master(s)) == "master");
      CHECK(role(t.replica(0, s)) == "slave");
      CHECK(test::connect(t.replica(0, s))->info("replication")["master_port"] == std::to_string(t.master(s).port()));
    }

    auto where = write_keys(t, 300);
    std::vector<long long> per_shard(3);
    for (const auto& [key, shard] : where) {
      ++per_shard[shard];
      CHECK(test::connect(t.master(shard))->checked({"CLUSTER", "KEYSLOT", key}).integer == key_slot(key));
    }
    for (size_t s = 0; s < 3; ++s) {
      CHECK(per_shard[s] > 50);
      wait_for_dbsize(t.master(s), per_shard[s]);
      wait_for_dbsize(t.replica(0, s), per_shard[s]);
    }
    Reply wrong = test::connect(t.master((where["k:0"] + 1) % 3))->command({"GET", "k:0"});
    CHECK(wrong.str == fmt::format("MOVED {} 127.0.0.1:{}", key_slot("k:0"), t.master(where["k:0"]).port()));

    auto j = nlohmann::json::parse(t.describe());
    REQUIRE(j.size() == 6);
    std::set<std::string> ids;
    for (const auto& node : j) {
      ids.insert(node["node_id"].get<std::string>());
      CHECK(node["node_id"].get<std::string>().size() == 40);
      CHECK(node["slots"] == t.slots_of(node["shard"].get<size_t>()));
    }
    CHECK(ids.size() == 6);
    CHECK(j[0]["role"] == "master");
    CHECK(j[1]["role"] == "replica");
    CHECK(t.describe().find("cluster-secret") == std::string::npos);
    for (int pid : pids) CHECK(alive(pid));
  }
  for (int pid : pids) CHECK_FALSE(alive(pid));
}

TEST_CASE("a cluster shard fails over to its replica and keeps its data", "[sim][topology][cluster]") {
  Topology t(cluster_spec(3, 1));
  auto where = write_keys(t, 300);
  const int old_master = t.master(0).port();
  const int old_replica = t.replica(0, 0).port();
  wait_for_dbsize(t.replica(0, 0), test::connect(t.master(0))->checked({"DBSIZE"}).integer);

  auto started = Clock::now();
  t.failover(0);
  UNSCOPED_INFO("failover in " << seconds_since(started) << " s");
  CHECK(t.master(0).port() == old_replica);
  CHECK(t.replica(0, 0).port() == old_master);
  CHECK(role(t.master(0)) == "master");
  CHECK(role(t.replica(0, 0)) == "slave");
  CHECK(test::connect(t.replica(0, 0))->info("replication")["master_link_status"] == "up");
  CHECK(t.slots_of(0) == "0-5460");
  for (auto* s : t.servers()) CHECK(cluster_info_command(*s)["cluster_state"] == "ok");

  auto m = test::connect(t.master(0));
  for (const auto& [key, shard] : where)
    if (shard == 0) CHECK(m->checked({"GET", key}).str == "v" + key.substr(2));
  std::string key = "k:0";
  for (int i = 0; t.shard_of_key(key) != 0; ++i) key = fmt::format("k:{}", i);
  CHECK(m->checked({"SET", key, "after"}).str == "OK");
  CHECK(test::connect(t.replica(0, 0))->command({"SET", key, "x"}).str.rfind("MOVED", 0) == 0);
  std::string json = t.describe();
  CHECK(json.find(fmt::format("redis://127.0.0.1:{}\"", old_replica)) < json.find(fmt::format("redis://127.0.0.1:{}\"", old_master)));

  // A master that dies is failed over by the cluster itself, and master() follows.
  const int standby = t.replica(0, 2).port();
  t.master(2).stop();
  started = Clock::now();
  while (t.master(2).port() != standby && seconds_since(started) < 20) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  UNSCOPED_INFO("automatic failover noticed after " << seconds_since(started) << " s");
  REQUIRE(t.master(2).port() == standby);
  CHECK(t.slots_of(2) == "10923-16383");
  CHECK_THROWS_WITH(t.failover(2), Catch::Contains("shard 2 has no replica"));
  // With a node down, the rest still fails over and agrees.
  t.failover(1);
  CHECK(role(t.master(1)) == "master");
  CHECK(role(t.replica(0, 1)) == "slave");
  for (auto* s : t.servers())
    if (s->running()) CHECK(cluster_info_command(*s)["cluster_state"] == "ok");
}

TEST_CASE("a reshard moves the lowest slots and their keys while a client writes", "[sim][topology][cluster]") {
  Topology t(cluster_spec(3, 1));
  auto where = write_keys(t, 2000);
  const int from_port = t.master(0).port();
  const int to_port = t.master(1).port();
  long long in_moved_slots = 0;
  for (const auto& [key, shard] : where) in_moved_slots += key_slot(key) < 500;
  REQUIRE(in_moved_slots > 0);

  // A writer on the slots being moved that follows MOVED and ASK as a cluster client must.
  std::atomic<bool> stop{false};
  std::map<std::string, std::string> acked;
  std::string writer_error;
  std::thread writer([&] {
    try {
      std::map<int, std::unique_ptr<Connection>> conns;
      auto at = [&](int port) -> Connection& {
        auto& c = conns[port];
        if (!c) {
          Endpoint ep;
          ep.host = "127.0.0.1";
          ep.port = port;
          ep.password = "cluster-secret";
          c = Connection::open(ep);
        }
        return *c;
      };
      std::map<int, int> owner;  // slot -> port, learnt from MOVED
      for (int i = 0; !stop; ++i) {
        int slot = (i * 7) % 500;
        std::string key = fmt::format("live:{{{}}}:{}", tag_for_slot(slot), i), value = std::to_string(i);
        int port = owner.count(slot) ? owner[slot] : from_port;
        for (int hop = 0;; ++hop) {
          if (hop > 5) throw std::runtime_error("more than 5 redirects for " + key);
          Reply r = at(port).command({"SET", key, value});
          if (!r.is_error()) break;
          auto space = r.str.rfind(':');
          if (r.str.rfind("MOVED ", 0) == 0) {
            port = owner[slot] = std::stoi(r.str.substr(space + 1));
          } else if (r.str.rfind("ASK ", 0) == 0) {
            Connection& c = at(std::stoi(r.str.substr(space + 1)));
            c.checked({"ASKING"});
            if (!c.command({"SET", key, value}).is_error()) break;
          } else if (r.str.rfind("TRYAGAIN", 0) != 0) {
            throw std::runtime_error("SET " + key + ": " + r.str);
          }
        }
        acked[key] = value;
      }
    } catch (const std::exception& e) {
      writer_error = e.what();
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ReshardResult r;
  try {
    r = t.reshard(0, 1, 500);
  } catch (...) {
    stop = true;
    writer.join();
    throw;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop = true;
  writer.join();
  UNSCOPED_INFO("reshard of " << r.slots << " slots, " << r.keys << " keys in " << r.seconds << " s; the writer wrote "
                              << acked.size() << " keys");
  REQUIRE(writer_error.empty());
  CHECK(r.slots == 500);
  CHECK(r.ranges == "0-499");
  CHECK(r.keys >= in_moved_slots);  // and the writer's keys that were on the source
  CHECK(t.master(0).port() == from_port);
  CHECK(t.master(1).port() == to_port);
  CHECK(t.slots_of(0) == "500-5460");
  CHECK(t.slots_of(1) == "0-499,5461-10922");
  CHECK(t.slots_of(2) == "10923-16383");

  auto from = test::connect(t.master(0));
  auto to = test::connect(t.master(1));
  long long on_from = 0, on_to = 0;
  for (int slot = 0; slot < 500; ++slot) {
    on_from += from->checked({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}).integer;
    on_to += to->checked({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}).integer;
  }
  CHECK(on_from == 0);
  CHECK(on_to == in_moved_slots + static_cast<long long>(acked.size()));
  for (const auto& [key, shard] : where) {
    if (key_slot(key) >= 500) continue;
    CHECK(t.shard_of_key(key) == 1);
    CHECK(to->checked({"GET", key}).str == "v" + key.substr(2));
    CHECK(from->command({"GET", key}).str == fmt::format("MOVED {} 127.0.0.1:{}", key_slot(key), to_port));
  }
  for (const auto& [key, value] : acked) CHECK(to->checked({"GET", key}).str == value);
  for (auto* s : t.servers()) CHECK(cluster_info_command(*s)["cluster_state"] == "ok");
  wait_for_dbsize(t.replica(0, 1), to->checked({"DBSIZE"}).integer);
  CHECK_THROWS_WITH(t.reshard(0, 1, 5000), Catch::Contains("shard 0 owns 4961 slots, cannot move 5000"));
}

TEST_CASE("a 3x0 cluster of Redis 6.0 comes up and reshards (ADDSLOTS, MIGRATE ... AUTH)", "[sim][topology][cluster]") {
  auto binary = server_binary("redis-6.0");
  if (!binary) {
    WARN("redis-6.0 is not fetched (tools/fetch-servers): skipped");
    return;
  }
  std::vector<int> pids;
  {
    Topology t(cluster_spec(3, 0, *binary));
    REQUIRE(t.servers().size() == 3);
    for (auto* s : t.servers()) {
      pids.push_back(s->pid());
      CHECK(s->version() / 100 == 600);
      auto info = cluster_info_command(*s);
      CHECK(info["cluster_state"] == "ok");
      CHECK(info["cluster_slots_assigned"] == "16384");
    }
    CHECK(t.slots_of(2) == "10923-16383");
    CHECK_THROWS_WITH(t.failover(1), Catch::Contains("shard 1 has no replica"));
    auto m = test::connect(t.master(2));
    for (int slot = 10923; slot <= 10942; ++slot)
      for (int k = 0; k < 3; ++k) m->checked({"SET", fmt::format("{{{}}}:{}", tag_for_slot(slot), k), "six"});
    auto r = t.reshard(2, 0, 20);
    CHECK(r.ranges == "10923-10942");
    CHECK(r.keys == 60);
    CHECK(t.slots_of(0) == "0-5460,10923-10942");
    CHECK(t.slots_of(2) == "10943-16383");
    auto to = test::connect(t.master(0));
    CHECK(to->checked({"DBSIZE"}).integer == 60);
    CHECK(to->checked({"GET", fmt::format("{{{}}}:2", tag_for_slot(10942))}).str == "six");
    CHECK(m->checked({"DBSIZE"}).integer == 0);
  }
  for (int pid : pids) CHECK_FALSE(alive(pid));
}

TEST_CASE("clusters of every fetched server version come up, fail over and reshard", "[sim][topology][cluster][versions]") {
  for (std::string version : {"redis-8.0", "valkey-8.0", "valkey-8.1"}) {
    auto binary = server_binary(version);
    if (!binary) {
      WARN(version << " is not fetched (tools/fetch-servers): skipped");
      continue;
    }
    INFO(version);
    auto started = Clock::now();
    Topology t(cluster_spec(3, 1, *binary));
    double up = seconds_since(started);
    auto where = write_keys(t, 300);
    started = Clock::now();
    t.failover(2);
    double failover = seconds_since(started);
    auto r = t.reshard(2, 0, 100);
    UNSCOPED_INFO(version << ": up " << up << " s, failover " << failover << " s, reshard of " << r.keys << " keys " << r.seconds << " s");
    CHECK(t.slots_of(2) == "11023-16383");
    CHECK(t.slots_of(0) == "0-5460,10923-11022");
    auto m = test::connect(t.master(0));
    for (const auto& [key, shard] : where)
      if (key_slot(key) >= 10923 && key_slot(key) < 11023) CHECK(m->checked({"GET", key}).str == "v" + key.substr(2));
    for (auto* s : t.servers()) CHECK(cluster_info_command(*s)["cluster_state"] == "ok");
  }
}

TEST_CASE("ferry sim servers prints its servers and stops them", "[sim][topology]") {
  auto r = test::run_ferry({"sim", "servers", "--replicas", "1", "--duration", "0.5", "--config", "repl-backlog-size=1mb"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j.size() == 2);
  CHECK(j[0]["role"] == "master");
  CHECK(j[1]["role"] == "replica");
  for (const auto& s : j) CHECK_FALSE(alive(s["pid"].get<int>()));
  auto bad = test::run_ferry({"sim", "servers", "--version", "redis-1.0"});
  CHECK(bad.exit_code == 3);
}

TEST_CASE("ferry sim servers --cluster starts a cluster and stops it", "[sim][topology][cluster]") {
  auto r = test::run_ferry({"sim", "servers", "--cluster", "3x1", "--duration", "0.5"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j.size() == 6);
  std::set<std::string> slots;
  for (const auto& s : j) {
    CHECK(s["node_id"].get<std::string>().size() == 40);
    if (s["role"] == "master") slots.insert(s["slots"].get<std::string>());
    CHECK_FALSE(alive(s["pid"].get<int>()));
  }
  CHECK(slots == std::set<std::string>{"0-5460", "5461-10922", "10923-16383"});
  for (const char* shape : {"3", "0x1", "3x", "x1", "3x1x1", "3y1", "101x0"}) {
    auto bad = test::run_ferry({"sim", "servers", "--cluster", shape});
    CHECK(bad.exit_code == 3);
    CHECK(bad.err.find("MASTERSxREPLICAS") != std::string::npos);
  }
  CHECK(test::run_ferry({"sim", "servers", "--cluster", "3x1", "--replicas", "1"}).exit_code == 3);
}
