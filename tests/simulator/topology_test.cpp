// Topologies start, link their replicas, and leave no process behind; `ferry sim servers` does the
// same from the command line.
#include "support.h"
#include "topology/topology.h"

#include <signal.h>

#include <cerrno>
#include <thread>

using namespace ferry;
using namespace ferry::sim;

namespace {

bool alive(int pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

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
