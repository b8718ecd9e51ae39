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
  CHECK(status_of(replace, "existing-keys") == "pass");  // asked for: not a warning to accept again
  CHECK(replace.dump().find("will be overwritten") != std::string::npos);
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
    for (const auto& c : j["checks"])  // both fixes: the server's and the task's
      if (c["name"] == "output-buffer") {
        CHECK(c["fix"].get<std::string>().find("CONFIG SET client-output-buffer-limit") != std::string::npos);
        CHECK(c["fix"].get<std::string>().find("--spool-dir") != std::string::npos);
      }
  }
}

TEST_CASE("an unreachable server is exit 4, ahead of failed checks", "[precheck]") {
  RedisServer src;
  int port = sim::free_loopback_port();
  auto r = run_ferry({"precheck", "--source", src.uri(), "--target", "redis://127.0.0.1:" + std::to_string(port), "--json"});
  CHECK(r.exit_code == 4);
  CHECK(status_of(nlohmann::json::parse(r.out), "target-connection") == "fail");
}

TEST_CASE("an older target warns on versions, fails on data it cannot hold, and on module keys", "[precheck][versions]") {
  auto redis8 = test::other_server("redis-8.0");
  if (!redis8) {
    WARN("skipped: redis-8.0 not fetched (run tools/fetch-servers)");
    return;
  }
  RedisServerOptions o;
  o.binary = *redis8;
  RedisServer src(o), dst;  // Redis 8.0 -> the system's 7.0
  auto s = test::connect(src);
  s->checked({"SET", "a", "1"});
  auto j = precheck(src, dst, {}, 2);
  CHECK(status_of(j, "versions") == "warn");
  CHECK(status_of(j, "modules") == "warn");  // Redis 8 lists vectorset; no keys of it yet
  CHECK(status_of(j, "unsupported-data") == "pass");

  s->checked({"HSET", "h", "f", "v"});
  s->checked({"HPEXPIRE", "h", "100000", "FIELDS", "1", "f"});
  j = precheck(src, dst, {}, 1);
  CHECK(status_of(j, "unsupported-data") == "fail");
  s->checked({"DEL", "h"});

  s->checked({"VADD", "vectors", "VALUES", "2", "1", "0", "item"});
  j = precheck(src, dst, {}, 1);
  CHECK(status_of(j, "modules") == "fail");
  for (const auto& c : j["checks"])
    if (c["name"] == "modules") CHECK(c["found"].get<std::string>().find("'vectors'") != std::string::npos);
  // Leaving the module keys out is the way past it; the check still fails (it looks at the source).
  auto skipped = precheck(src, dst, {"--skip-check", "modules", "--skip-check", "versions"}, 0);
  for (const auto& c : skipped["checks"])
    if (c["name"] == "modules") CHECK(c["ignored"] == true);
}

TEST_CASE("a target user without RESTORE, a wrong password, a cluster node", "[precheck]") {
  SECTION("target-permission") {
    RedisServerOptions o;
    o.acl_users = {"norestore on >pw ~* &* +@all -restore"};
    RedisServer src, dst(o);
    auto r = run_ferry({"precheck", "--source", src.uri(), "--target", dst.uri("norestore", "pw"), "--json"});
    CHECK(r.exit_code == 1);
    CHECK(status_of(nlohmann::json::parse(r.out), "target-permission") == "fail");
    CHECK(r.out.find("pw") == std::string::npos);  // the password is not shown
  }
  SECTION("a wrong password is exit 4") {
    RedisServerOptions o;
    o.requirepass = "right-secret";
    RedisServer src(o), dst;
    auto r = run_ferry({"precheck", "--source", src.uri("default", "wrong-secret"), "--target", dst.uri(), "--json"});
    CHECK(r.exit_code == 4);
    CHECK(status_of(nlohmann::json::parse(r.out), "source-connection") == "fail");
    CHECK(r.out.find("wrong-secret") == std::string::npos);
    CHECK(r.err.find("wrong-secret") == std::string::npos);
  }
  SECTION("cluster mode fails with a clear message") {
    RedisServerOptions o;
    // The bus port is given: the default (port + 10000) does not exist for a free port above 55535.
    o.extra_args = {"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port",
                    std::to_string(sim::free_loopback_port())};
    RedisServer src, dst(o);
    auto j = precheck(src, dst, {}, 1);
    CHECK(status_of(j, "cluster") == "fail");
  }
}

TEST_CASE("a key above the target's proto-max-bulk-len is found by sampling", "[precheck]") {
  RedisServerOptions o;
  o.config = {{"proto-max-bulk-len", "1mb"}};
  RedisServer src, dst(o);
  test::connect(src)->checked({"SET", "huge", std::string(3 << 20, 'x')});
  auto j = precheck(src, dst, {}, 2);
  CHECK(status_of(j, "big-keys") == "warn");
}

TEST_CASE("db-map: databases and existing keys are checked on the mapped target DBs", "[precheck][filter]") {
  RedisServerOptions few_dbs;
  few_dbs.databases = 4;
  RedisServer src, dst(few_dbs);
  auto s = test::connect(src);
  s->select(5);
  s->checked({"SET", "a", "1"});
  auto missing = precheck(src, dst, {"--db", "5"}, 1);
  CHECK(status_of(missing, "databases") == "fail");
  auto mapped = precheck(src, dst, {"--db", "5", "--db-map", "5:2"}, 0);
  CHECK(status_of(mapped, "databases") == "pass");
  auto d = test::connect(dst);
  d->select(2);
  d->checked({"SET", "busy", "1"});
  auto busy = precheck(src, dst, {"--db", "5", "--db-map", "5:2"}, 1);
  CHECK(status_of(busy, "existing-keys") == "fail");
  for (const auto& c : busy["checks"])
    if (c["name"] == "existing-keys") CHECK(c["found"].get<std::string>().find("DB 2: 1 keys, e.g. 'busy'") != std::string::npos);
}

TEST_CASE("mode rdb checks the file: exit 5 when unreadable, its used-mem against the target", "[precheck][rdb]") {
  RedisServer src, dst;
  auto s = test::connect(src);
  s->checked({"SET", "a", "1"});
  s->checked({"SAVE"});
  std::string file = src.dir() + "/dump.rdb";
  auto ok = run_ferry({"precheck", "--mode", "rdb", "--rdb", file, "--target", dst.uri(), "--json"});
  CHECK(ok.exit_code == 0);
  auto j = nlohmann::json::parse(ok.out);
  CHECK(status_of(j, "rdb-file") == "pass");
  CHECK(status_of(j, "source-connection") == "absent");
  auto missing = run_ferry({"precheck", "--mode", "rdb", "--rdb", src.dir() + "/nope.rdb", "--target", dst.uri(), "--json"});
  CHECK(missing.exit_code == 5);
  CHECK(status_of(nlohmann::json::parse(missing.out), "rdb-file") == "fail");
}

TEST_CASE("skip-check names must exist, and an ignored failure does not count", "[precheck]") {
  RedisServer src, dst;
  test::connect(src)->checked({"SET", "a", "1"});
  test::connect(dst)->checked({"SET", "a", "2"});
  auto bad = run_ferry({"precheck", "--source", src.uri(), "--target", dst.uri(), "--skip-check", "no-such-check"});
  CHECK(bad.exit_code == 3);
  CHECK(bad.err.find("no-such-check") != std::string::npos);
  auto j = precheck(src, dst, {"--skip-check", "existing-keys"}, 0);
  CHECK(j["status"] == "pass");
  CHECK(status_of(j, "existing-keys") == "fail");
}
