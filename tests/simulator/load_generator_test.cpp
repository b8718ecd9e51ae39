// The seeded load generator: the same seed sends the same commands; a long enough run sends every
// command of the supported list; the op log records each command with its reply; bad mixes are
// refused.
#include "support.h"
#include "workload/load_generator.h"

#include <fstream>
#include <set>

using namespace ferry;
using namespace ferry::sim;

TEST_CASE("the same seed gives the same commands, another seed others", "[sim][load]") {
  LoadOptions o;
  o.seed = 42;
  o.base_ms = 1'900'000'000'000;  // fixed, so absolute expiries match too
  LoadGenerator a(o), b(o);
  o.seed = 43;
  LoadGenerator c(o);
  bool differs = false;
  for (int i = 0; i < 5000; ++i) {
    auto x = a.next(), y = b.next(), z = c.next();
    REQUIRE(x.db == y.db);
    REQUIRE(x.commands == y.commands);
    differs |= x.commands != z.commands;
  }
  CHECK(differs);
}

TEST_CASE("a long enough run sends every supported write command, and logs each with its reply", "[sim][load]") {
  RedisServer server;
  auto conn = test::connect(server);
  LoadOptions o;
  o.seed = 7;
  o.rate = 0;
  o.duration_s = 0;
  o.max_commands = 30000;
  o.dbs = {0, 1, 5};
  o.op_log = server.dir() + "/ops.jsonl";
  LoadGenerator generator(o);
  LoadStats stats = generator.run(*conn);
  CHECK(stats.commands >= 30000);
  const std::vector<std::string> every{
      "APPEND", "BITOP", "BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "COPY", "DECR", "DECRBY", "DEL", "EVAL", "EVALSHA",
      "EXEC", "EXPIRE", "EXPIREAT", "GEOADD", "GETDEL", "GETSET", "HDEL", "HINCRBY", "HINCRBYFLOAT", "HMSET", "HSET",
      "HSETNX", "INCR", "INCRBY", "INCRBYFLOAT", "LINSERT", "LMOVE", "LPOP", "LPUSH", "LPUSHX", "LREM", "LSET", "LTRIM",
      "MOVE", "MSET", "MSETNX", "MULTI", "PERSIST", "PEXPIRE", "PEXPIREAT", "PFADD", "PFMERGE", "PSETEX", "PUBLISH",
      "RENAME", "RENAMENX", "RESTORE", "RPOP", "RPOPLPUSH", "RPUSH", "RPUSHX", "SADD", "SDIFFSTORE", "SET", "SETBIT",
      "SETEX", "SETNX", "SETRANGE", "SINTERSTORE", "SMOVE", "SPOP", "SREM", "SUNIONSTORE", "UNLINK", "XACK", "XADD",
      "XAUTOCLAIM", "XCLAIM", "XGROUP", "XREADGROUP", "XTRIM", "ZADD", "ZINCRBY", "ZINTERSTORE", "ZPOPMIN", "ZREM",
      "ZREMRANGEBYLEX", "ZREMRANGEBYRANK", "ZREMRANGEBYSCORE", "ZUNIONSTORE"};
  for (const auto& cmd : every) {
    INFO(cmd);
    CHECK(stats.per_command.count(cmd) == 1);
  }
  // Every form of expiry, and keys that expire during the run.
  std::ifstream log(o.op_log);
  std::string line;
  uint64_t lines = 0;
  std::set<std::string> forms;
  bool failing_script_failed = false;
  while (std::getline(log, line)) {
    ++lines;
    auto j = nlohmann::json::parse(line);
    REQUIRE(j.contains("reply"));
    const auto& args = j["args"];
    if (args[0] == "SET" && args.size() >= 5) forms.insert(args[3].get<std::string>());
    if (args[0] == "EVAL" && args[1].get<std::string>().find("INCR") != std::string::npos &&
        j["reply"].get<std::string>().find("error") != std::string::npos)
      failing_script_failed = true;
  }
  CHECK(lines == stats.commands);
  CHECK(forms == std::set<std::string>{"EX", "PX", "EXAT", "PXAT"});
  CHECK(failing_script_failed);  // the lua-fail script wrote, then failed
  for (int db : {0, 1, 5}) {
    conn->select(db);
    CHECK(conn->checked({"DBSIZE"}).integer > 0);
  }
}

TEST_CASE("a mix with an unknown group or no weight is refused", "[sim][load]") {
  LoadOptions o;
  o.weights = {{"strings", 1}};
  CHECK_THROWS_AS(LoadGenerator(o), FerryError);
  o.weights = {{"string", 0}};
  CHECK_THROWS_AS(LoadGenerator(o), FerryError);
  o.weights = {{"push", 1}};
  LoadGenerator only_push(o);
  for (int i = 0; i < 100; ++i) CHECK(only_push.next().commands[0][0].find("PUSH") != std::string::npos);
}
