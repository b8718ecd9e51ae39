// The transform (--transform FILE.lua) against real servers: what arrives is what the script says,
// in a scan, an RDB import and the replication stream; a script's mistakes stop the task with a
// message naming the file, the line and the key; the sandbox holds.
#include "support.h"

#include <filesystem>
#include <fstream>

using namespace ferry;
using ferry::sim::RedisServer;
using ferry::test::BackgroundFerry;

namespace {

std::string write_script(const RedisServer& server, const std::string& name, const std::string& code) {
  std::string path = server.dir() + "/" + name;
  std::ofstream(path) << code;
  return path;
}

const char* kRenameSplit = R"lua(
function on_key(k)
  if ferry.match(k.key, "session:*") then return ferry.drop() end
  if ferry.match(k.key, "user:*") then k.db = 1 end
  return ferry.rename_prefix(k, "t1:", "shared:t1:")
end
function on_command(c)
  if ferry.match(c.args[1] or "", "session:*") then return ferry.drop() end
  return ferry.rename_prefix(c, "t1:", "shared:t1:")
end
)lua";

std::string get(Connection& c, int db, const std::string& key) {
  c.checked({"SELECT", std::to_string(db)});
  Reply r = c.checked({"GET", key});
  return r.is_nil() ? "(nil)" : r.str;
}

}  // namespace

TEST_CASE("a prefix rename, a drop and a DB split by pattern: scan and RDB import", "[transform]") {
  RedisServer src;
  auto s = test::connect(src);
  s->checked({"MSET", "t1:a", "1", "t1:b", "2", "session:x", "3", "user:1", "u", "other", "5"});
  s->checked({"RPUSH", "t1:list", "a", "b", "c"});
  s->checked({"HSET", "t1:h", "f", "v"});
  s->checked({"SET", "t1:ttl", "v", "PXAT", std::to_string(test::now_ms() + 3600000)});
  const long long ttl_at = s->checked({"PEXPIRETIME", "t1:ttl"}).integer;
  std::string script = write_script(src, "split.lua", kRenameSplit);
  s->checked({"SAVE"});
  for (const std::string mode : {"scan", "rdb"}) {
    DYNAMIC_SECTION(mode) {
      RedisServer dst;
      std::string report = dst.dir() + "/r.json";
      std::vector<std::string> args{"migrate", "--mode", mode, "--target", dst.uri(), "--transform", script, "--report", report};
      if (mode == "scan") args.insert(args.end(), {"--source", src.uri()});
      else args.insert(args.end(), {"--rdb", src.dir() + "/dump.rdb"});
      auto r = test::run_ferry(args);
      INFO(r.err);
      REQUIRE(r.exit_code == 0);
      auto d = test::connect(dst);
      CHECK(get(*d, 0, "shared:t1:a") == "1");
      CHECK(get(*d, 0, "shared:t1:b") == "2");
      CHECK(get(*d, 0, "other") == "5");
      CHECK(get(*d, 1, "user:1") == "u");
      d->checked({"SELECT", "0"});
      CHECK(d->checked({"EXISTS", "session:x", "t1:a", "user:1"}).integer == 0);
      CHECK(d->checked({"LRANGE", "shared:t1:list", "0", "-1"}).elements.size() == 3);
      CHECK(d->checked({"HGET", "shared:t1:h", "f"}).str == "v");
      CHECK(d->checked({"PEXPIRETIME", "shared:t1:ttl"}).integer == ttl_at);  // the absolute expiry kept
      CHECK(d->checked({"DBSIZE"}).integer == 6);
      auto j = test::read_json(report);
      CHECK(j["transformed_dropped"] == 1);
      CHECK(j["complete"] == true);
    }
  }
}

TEST_CASE("the stream through a rename: multi-key commands, MULTI/EXEC and scripts", "[transform]") {
  RedisServer src, dst;
  auto s = test::connect(src);
  s->checked({"SET", "t1:seed", "x"});
  std::string script = write_script(src, "rename.lua", kRenameSplit);
  BackgroundFerry ferry({"migrate", "--mode", "sync", "--source", src.uri(), "--target", dst.uri(), "--no-heartbeat",
                         "--transform", script});
  test::wait_for_replica(*s, 30);
  s->checked({"MSET", "t1:a", "1", "t1:b", "2"});
  s->checked({"SET", "session:s", "z"});  // dropped by on_command
  s->checked({"SADD", "t1:s1", "a", "b"});
  s->checked({"SADD", "t1:s2", "c"});
  s->checked({"SUNIONSTORE", "t1:u", "t1:s1", "t1:s2"});
  s->checked({"RENAME", "t1:b", "t1:c"});
  s->checked({"MULTI"});
  s->checked({"LPUSH", "t1:l", "x"});
  s->checked({"INCR", "t1:n"});
  s->checked({"EXEC"});
  s->checked({"EVAL", "redis.call('SET', KEYS[1], ARGV[1]); redis.call('RPUSH', KEYS[2], ARGV[1]); return 1", "2", "t1:e",
              "t1:el", "v"});
  s->checked({"DEL", "t1:a", "t1:seed"});
  auto d = test::connect(dst);
  std::vector<std::string> expected{"shared:t1:c", "shared:t1:e", "shared:t1:el", "shared:t1:l", "shared:t1:n",
                                    "shared:t1:s1", "shared:t1:s2", "shared:t1:u"};
  std::vector<std::string> keys;
  for (int i = 0; i < 200; ++i) {
    Reply r = d->checked({"KEYS", "*"});
    keys.clear();
    for (auto& k : r.elements) keys.push_back(k.str);
    std::sort(keys.begin(), keys.end());
    if (keys == expected) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(keys == expected);
  CHECK(d->checked({"SCARD", "shared:t1:u"}).integer == 3);
  CHECK(d->checked({"GET", "shared:t1:c"}).str == "2");
  CHECK(d->checked({"GET", "shared:t1:e"}).str == "v");
  CHECK(ferry.stop().exit_code == 0);
}

TEST_CASE("a script's mistakes stop the task naming the file, the line and the key; the sandbox holds", "[transform]") {
  RedisServer src, dst;
  auto s = test::connect(src);
  s->checked({"MSET", "a", "1", "bad", "2"});
  SECTION("an error") {
    auto path = write_script(src, "err.lua", "function on_key(k)\n  if k.key == 'bad' then error('no such tenant') end\n  return k\nend\n");
    auto r = test::run_ferry({"migrate", "--mode", "scan", "--source", src.uri(), "--target", dst.uri(), "--transform", path});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("err.lua:2: no such tenant") != std::string::npos);
    CHECK(r.err.find("key 'bad'") != std::string::npos);
  }
  SECTION("nothing returned is an error, not a drop") {
    auto path = write_script(src, "nil.lua", "function on_key(k)\n  if k.key == 'bad' then return end\n  return k\nend\n");
    auto r = test::run_ferry({"migrate", "--mode", "scan", "--source", src.uri(), "--target", dst.uri(), "--transform", path});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("nil.lua:1: on_key returned nothing") != std::string::npos);
    CHECK(r.err.find("key 'bad'") != std::string::npos);
  }
  SECTION("os.execute is refused") {
    std::string marker = src.dir() + "/pwned";
    auto path = write_script(src, "os.lua", "function on_key(k)\n  os.execute('touch " + marker + "')\n  return k\nend\n");
    auto r = test::run_ferry({"migrate", "--mode", "scan", "--source", src.uri(), "--target", dst.uri(), "--transform", path});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("'os' is not available") != std::string::npos);
    CHECK(!std::filesystem::exists(marker));
  }
  SECTION("an endless loop runs out of its time budget") {
    auto path = write_script(src, "loop.lua", "function on_key(k)\n  while true do end\nend\n");
    auto r = test::run_ferry({"migrate", "--mode", "scan", "--source", src.uri(), "--target", dst.uri(), "--transform", path,
                              "--transform-budget-ms", "200"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("took longer than 200 ms") != std::string::npos);
  }
  SECTION("a syntax error is a usage error before anything moves") {
    auto path = write_script(src, "syntax.lua", "function on_key(k\n");
    auto r = test::run_ferry({"migrate", "--mode", "scan", "--source", src.uri(), "--target", dst.uri(), "--transform", path});
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("syntax.lua:2:") != std::string::npos);
    CHECK(test::connect(dst)->checked({"DBSIZE"}).integer == 0);
  }
}
