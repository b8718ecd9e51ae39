// `ferry precheck` against real servers configured to pass, warn and fail each check.
#include "support.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>

using namespace ferry;
using ferry::sim::RedisServer;
using ferry::sim::RedisServerOptions;
using ferry::test::run_ferry;

namespace {

nlohmann::json precheck(const RedisServer& src, const RedisServer& dst, std::vector<std::string> extra, int expected_exit) {
  std::vector<std::string> args{"precheck", "--source", src.uri(), "--target", dst.uri(), "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = run_ferry(args);
  CHECK(r.exit_code == expected_exit);
  return nlohmann::json::parse(r.out);
}

std::string status_of(const nlohmann::json& j, const std::string& name) {
  for (const auto& c : j["checks"])
    if (c["name"] == name) return c["status"];
  return "absent";
}

}  // namespace

TEST_CASE("a good pair passes every check", "[precheck]") {
  RedisServer src, dst;
  test::connect(src)->checked({"SET", "a", "1"});
  auto j = precheck(src, dst, {"--mode", "sync"}, 0);
  CHECK(j["status"] == "pass");
  for (const char* name : {"source-connection", "target-connection", "source-permission", "sync-allowed", "target-permission",
                           "target-role", "target-memory", "eviction-policy", "existing-keys", "versions",
                           "unsupported-data", "modules", "output-buffer", "backlog", "databases", "same-server",
                           "cluster", "big-keys"})
    CHECK(status_of(j, name) == "pass");
}

TEST_CASE("allkeys-lru, too little memory and existing keys are each named, exit 1", "[precheck]") {
  RedisServerOptions bad;
  bad.maxmemory = "2mb";
  bad.maxmemory_policy = "allkeys-lru";
  RedisServer src, dst(bad);
  auto s = test::connect(src);
  {
    Pipeline pipe(*s);
    for (int i = 0; i < 3000; ++i) pipe.send({"SET", "k" + std::to_string(i), std::string(1000, 'x')});
  }
  test::connect(dst)->checked({"SET", "k1", "already"});
  auto j = precheck(src, dst, {}, 1);
  CHECK(status_of(j, "eviction-policy") == "warn");
  CHECK(status_of(j, "target-memory") == "fail");
  CHECK(status_of(j, "existing-keys") == "fail");
  auto replace = precheck(src, dst, {"--on-conflict", "replace"}, 1);
  CHECK(status_of(replace, "existing-keys") == "warn");
}

TEST_CASE("permissions, renamed PSYNC, replica target, same server, missing DB", "[precheck]") {
  SECTION("an ACL user without +psync, and one without +dump") {
    RedisServerOptions o;
    o.acl_users = {"nosync on >pw ~* &* +@all -psync -sync", "nodump on >pw ~* &* +@all -dump"};
    RedisServer src(o), dst;
    auto r = run_ferry({"precheck", "--mode", "sync", "--source", src.uri("nosync", "pw"), "--target", dst.uri(), "--json"});
    CHECK(r.exit_code == 1);
    CHECK(status_of(nlohmann::json::parse(r.out), "sync-allowed") == "fail");
    auto d = run_ferry({"precheck", "--source", src.uri("nodump", "pw"), "--target", dst.uri(), "--json"});
    CHECK(d.exit_code == 1);
    CHECK(status_of(nlohmann::json::parse(d.out), "source-permission") == "fail");
  }
  SECTION("PSYNC renamed: SYNC still works, a warning") {
    RedisServerOptions o;
    o.extra_args = {"--rename-command", "PSYNC", ""};
    RedisServer src(o), dst;
    auto j = precheck(src, dst, {"--mode", "sync"}, 2);
    CHECK(status_of(j, "sync-allowed") == "warn");
  }
  SECTION("a replica as target, the same server twice, a DB the target lacks") {
    RedisServerOptions few_dbs;
    few_dbs.databases = 4;
    RedisServer src, master, dst(few_dbs);
    auto replica_conn = test::connect(dst);
    replica_conn->checked({"REPLICAOF", "127.0.0.1", std::to_string(master.port())});
    auto j = precheck(src, dst, {"--db", "0,7"}, 1);
    CHECK(status_of(j, "target-role") == "fail");
    CHECK(status_of(j, "databases") == "fail");
    replica_conn->checked({"REPLICAOF", "NO", "ONE"});
    auto same = run_ferry({"precheck", "--source", src.uri(), "--target", src.uri(), "--json"});
    CHECK(status_of(nlohmann::json::parse(same.out), "same-server") == "fail");
  }
  SECTION("a small backlog and output-buffer limit under a write load warn with the CONFIG SET to run") {
    RedisServerOptions tight;
    tight.config = {{"repl-backlog-size", "16kb"}};
    tight.extra_args = {"--client-output-buffer-limit", "replica", "64kb", "32kb", "1"};
    RedisServer src(tight), dst;
    std::atomic<bool> stop{false};
    std::thread writer([&] {
      auto w = test::connect(src);
      Pipeline pipe(*w);
      for (int i = 0; !stop; ++i) pipe.send({"SET", "w" + std::to_string(i % 1000), std::string(1000, 'x')});
    });
    auto j = precheck(src, dst, {"--mode", "sync", "--on-conflict", "replace"}, 2);
    stop = true;
    writer.join();
    CHECK(status_of(j, "backlog") == "warn");
    CHECK(status_of(j, "output-buffer") == "warn");
    for (const auto& c : j["checks"])
      if (c["name"] == "backlog") CHECK(c["fix"].get<std::string>().find("CONFIG SET repl-backlog-size") != std::string::npos);
  }
}

TEST_CASE("an unreachable server is exit 4, ahead of failed checks", "[precheck]") {
  RedisServer src;
  int port = sim::free_loopback_port();
  auto r = run_ferry({"precheck", "--source", src.uri(), "--target", "redis://127.0.0.1:" + std::to_string(port), "--json"});
  CHECK(r.exit_code == 4);
  CHECK(status_of(nlohmann::json::parse(r.out), "target-connection") == "fail");
}
