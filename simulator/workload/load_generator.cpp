#include "workload/load_generator.h"

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "rdb/crc64.h"
#include "redis/command_keys.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <thread>

namespace ferry::sim {
namespace {

// A DUMP payload of a short string (RDB version 9, read by Redis 6.0 and later): type 0, the
// length-prefixed value, the version, and the CRC64 of all that.
std::string string_payload(const std::string& value) {
  std::string p;
  p.push_back('\0');
  p.push_back(static_cast<char>(value.size()));  // 6-bit length: values under 64 bytes
  p += value;
  p.push_back(9);
  p.push_back(0);
  uint64_t crc = rdb::crc64(0, p.data(), p.size());
  for (int i = 0; i < 8; ++i) p.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  return p;
}

const char* kMultiKeyScript = "redis.call('SET', KEYS[1], ARGV[1]); redis.call('RPUSH', KEYS[2], ARGV[1]); return 1";
// Writes KEYS[1], then INCR on KEYS[2], which holds a word: the script fails after its first write.
const char* kFailingScript = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])";

}  // namespace

std::map<std::string, double> LoadOptions::default_weights() {
  return {{"string", 14}, {"expiry", 10}, {"list", 10}, {"push", 4}, {"hash", 9},   {"set", 8},
          {"zset", 8},    {"stream", 7},  {"other", 4}, {"keyspace", 6}, {"multi", 5}, {"lua", 3},
          {"lua-fail", 1}, {"big", 0.2}};
}

const std::vector<std::string>& LoadGenerator::groups() {
  static const std::vector<std::string> names{"string", "expiry", "list", "push",  "hash",  "set",      "zset",
                                              "stream", "other",  "keyspace", "multi", "lua", "lua-fail", "big", "db"};
  return names;
}

LoadGenerator::LoadGenerator(LoadOptions options) : o_(std::move(options)), rng_(o_.seed) {
  if (o_.base_ms == 0) o_.base_ms = unix_ms();
  if (o_.dbs.empty()) o_.dbs = {0};
  for (const auto& [group, weight] : o_.weights) {
    if (std::find(groups().begin(), groups().end(), group) == groups().end())
      throw FerryError(ExitCode::Usage, fmt::format("load mix: unknown group '{}' (groups: {})", group, fmt::join(groups(), ", ")));
    if (weight < 0) throw FerryError(ExitCode::Usage, fmt::format("load mix: group '{}' has a negative weight", group));
    if (weight == 0) continue;
    total_ += weight;
    mix_.emplace_back(group, total_);
  }
  if (total_ <= 0) throw FerryError(ExitCode::Usage, "load mix: every weight is 0");
}

std::string LoadGenerator::key(const std::string& type, size_t space) {
  if (space == 0) space = o_.keyspace;
  if (o_.hash_tags == 0) return fmt::format("load:{}:{}", type, pick(space));
  // Among the keys whose number is tag_ mod hash_tags: the name is a function of the number alone.
  const uint64_t n = tag_ + o_.hash_tags * pick(std::max<uint64_t>(1, space / o_.hash_tags));
  return fmt::format("load:{{{}}}:{}:{}", tag_, type, n);
}

LoadGenerator::Step LoadGenerator::next() {
  Step step;
  step.db = step_db_ = o_.dbs[pick(o_.dbs.size())];
  if (o_.hash_tags) tag_ = pick(o_.hash_tags);
  double x = std::uniform_real_distribution<double>(0, total_)(rng_);
  std::string group = mix_.back().first;
  for (const auto& [name, upto] : mix_)
    if (x < upto) {
      group = name;
      break;
    }
  if (group == "multi") {
    step.commands.push_back({"MULTI"});
    int n = 2 + static_cast<int>(pick(4));
    static const std::vector<std::string> inner{"string", "expiry", "list", "hash", "set", "zset", "other"};
    for (int i = 0; i < n; ++i) {
      if (o_.hash_tags && o_.tag_per_command) tag_ = pick(o_.hash_tags);
      add_group(inner[pick(inner.size())], step.commands);
    }
    step.commands.push_back({"EXEC"});
  } else {
    add_group(group, step.commands);
  }
  return step;
}

void LoadGenerator::add_group(const std::string& g, std::vector<Args>& out) {
  const std::string n = std::to_string(++counter_);
  auto one = [&](Args a) { out.push_back(std::move(a)); };
  if (g == "string") {
    std::string s = key("str"), c = key("ctr");
    switch (pick(15)) {
      case 0: one({"SET", s, "v" + n}); break;
      case 1: one({"APPEND", s, "+" + n}); break;
      case 2: one({"SETRANGE", s, num(0, 20), "XY"}); break;
      case 3: one({"SETNX", key("str"), n}); break;
      case 4: one({"GETSET", s, n}); break;
      case 5: one({"MSET", key("str"), n, key("str"), n}); break;
      case 6: one({"MSETNX", o_.hash_tags ? fmt::format("load:{{{}}}:msetnx:{}", tag_, n) : "load:msetnx:" + n, n}); break;
      case 7: one({"INCR", c}); break;
      case 8: one({"INCRBY", c, num(1, 100)}); break;
      case 9: one({"DECR", c}); break;
      case 10: one({"DECRBY", c, num(1, 10)}); break;
      case 11: one({"INCRBYFLOAT", key("flt"), "0.25"}); break;
      case 12: one({"SETBIT", key("bits"), num(0, 4000), num(0, 1)}); break;
      case 13: one({"BITOP", "OR", key("bitop"), key("bits"), key("bits")}); break;
      default: one({"GETDEL", s}); break;
    }
  } else if (g == "expiry") {
    std::string e = key("exp");
    long long later = o_.base_ms + 3600000 + static_cast<long long>(pick(3600000));
    switch (pick(12)) {
      case 0: one({"SETEX", e, num(600, 7200), n}); break;
      case 1: one({"PSETEX", e, num(600000, 7200000), n}); break;
      case 2: one({"SET", e, n, "EX", num(600, 7200)}); break;
      case 3: one({"SET", e, n, "PX", num(600000, 7200000)}); break;
      case 4: one({"SET", e, n, "EXAT", std::to_string(later / 1000)}); break;
      case 5: one({"SET", e, n, "PXAT", std::to_string(later)}); break;
      case 6: one({"EXPIRE", key("str"), num(600, 7200)}); break;
      case 7: one({"PEXPIRE", key("hash"), num(600000, 7200000)}); break;
      case 8: one({"EXPIREAT", key("list"), std::to_string(later / 1000)}); break;
      case 9: one({"PEXPIREAT", key("set"), std::to_string(later)}); break;
      case 10: one({"PERSIST", key("str")}); break;
      default: one({"SET", key("short"), n, "PX", num(200, 3000)}); break;  // expires during the run
    }
  } else if (g == "list") {
    std::string l = key("list"), l2 = key("list");
    switch (pick(16)) {
      case 0: one({"RPUSH", l, "a" + n, "b", "c"}); break;
      case 1: one({"LPUSH", l, "z" + n}); break;
      case 2: one({"LPUSHX", l, "x" + n}); break;
      case 3: one({"RPUSHX", l, "y" + n}); break;
      case 4: one({"LINSERT", l, "BEFORE", "b", "i" + n}); break;
      case 5: one({"LSET", l, "0", "s" + n}); break;
      case 6: one({"LREM", l, "1", "c"}); break;
      case 7: one({"LTRIM", l, "0", "200"}); break;
      case 8: one({"LPOP", l}); break;
      case 9: one({"RPOP", l}); break;
      case 10: one({"RPOPLPUSH", l, l2}); break;
      case 11: one({"LMOVE", l, l2, "LEFT", "RIGHT"}); break;
      // Blocking pops after a push to the same list: they return at once (the server sends what
      // they did: LPOP, RPOP, LMOVE ...), and the load never stalls on an empty list.
      case 12: one({"RPUSH", l, "b" + n}), one({"BLPOP", l, "0.01"}); break;
      case 13: one({"RPUSH", l, "b" + n}), one({"BRPOP", l, "0.01"}); break;
      case 14: one({"RPUSH", l, "b" + n}), one({"BRPOPLPUSH", l, l2, "0.01"}); break;
      default: one({"RPUSH", l, "b" + n}), one({"BLMOVE", l, l2, "RIGHT", "LEFT", "0.01"}); break;
    }
  } else if (g == "push") {
    Args a{pick(2) ? "RPUSH" : "LPUSH", key("pushed", 4)};
    for (int i = 0, m = 20 + static_cast<int>(pick(81)); i < m; ++i) a.push_back(n + ":" + std::to_string(i));
    one(a);
  } else if (g == "hash") {
    std::string h = key("hash");
    switch (pick(6)) {
      case 0: one({"HSET", h, "f" + num(0, 50), n, "n", num(0, 9)}); break;
      case 1: one({"HMSET", h, "a", n, "b", n}); break;
      case 2: one({"HSETNX", h, "nx" + num(0, 50), n}); break;
      case 3: one({"HINCRBY", h, "cnt", num(1, 5)}); break;
      case 4: one({"HINCRBYFLOAT", h, "fl", "1.5"}); break;
      default: one({"HDEL", h, "f" + num(0, 50)}); break;
    }
  } else if (g == "set") {
    std::string s = key("set"), s2 = key("set");
    switch (pick(7)) {
      case 0: one({"SADD", s, "m" + num(0, 100), "m" + num(0, 100)}); break;
      case 1: one({"SREM", s, "m" + num(0, 100)}); break;
      case 2: one({"SPOP", s}); break;
      case 3: one({"SMOVE", s, s2, "m" + num(0, 100)}); break;
      case 4: one({"SINTERSTORE", key("sstore"), s, s2}); break;
      case 5: one({"SUNIONSTORE", key("sstore"), s, s2}); break;
      default: one({"SDIFFSTORE", key("sstore"), s, s2}); break;
    }
  } else if (g == "zset") {
    std::string z = key("zset"), z2 = key("zset");
    switch (pick(9)) {
      case 0: one({"ZADD", z, num(-100, 100), "m" + num(0, 100), "inf", "top"}); break;
      case 1: one({"ZINCRBY", z, "0.5", "m" + num(0, 100)}); break;
      case 2: one({"ZREM", z, "m" + num(0, 100)}); break;
      case 3: one({"ZREMRANGEBYSCORE", z, "50", "60"}); break;
      case 4: one({"ZREMRANGEBYRANK", z, "0", "0"}); break;
      case 5: one({"ZREMRANGEBYLEX", key("zlex"), "[a", "[b"}); break;
      case 6: one({"ZUNIONSTORE", key("zstore"), "2", z, z2}); break;
      case 7: one({"ZINTERSTORE", key("zstore"), "2", z, z2}); break;
      default: one({"ZPOPMIN", z}); break;
    }
  } else if (g == "stream") {
    std::string x = key("stream", 8);
    switch (pick(9)) {
      case 0:
      case 1: one({"XADD", x, "*", "f", n}); break;
      case 2: one({"XGROUP", "CREATE", x, "grp", "0", "MKSTREAM"}); break;  // BUSYGROUP after the first: an error reply
      case 3: one({"XGROUP", "CREATECONSUMER", x, "grp", "c" + num(0, 3)}); break;
      case 4: one({"XREADGROUP", "GROUP", "grp", "c" + num(0, 3), "COUNT", "2", "STREAMS", x, ">"}); break;
      case 5: one({"XACK", x, "grp", "0-1"}); break;
      case 6: one({"XCLAIM", x, "grp", "c" + num(0, 3), "0", "0-1"}); break;
      case 7: one({"XAUTOCLAIM", x, "grp", "c" + num(0, 3), "0", "0-0", "COUNT", "2"}); break;
      default: one({"XTRIM", x, "MAXLEN", "100"}); break;
    }
  } else if (g == "other") {
    switch (pick(4)) {
      case 0: one({"PFADD", key("hll"), "e" + n, "e" + num(0, 1000)}); break;
      case 1: one({"PFMERGE", key("hll"), key("hll"), key("hll")}); break;
      case 2: one({"GEOADD", key("geo"), "13.361389", "38.115556", "p" + num(0, 50)}); break;
      default: one({"PUBLISH", "ferry-load", n}); break;
    }
  } else if (g == "keyspace") {
    switch (pick(7)) {
      case 0: one({"DEL", key("str"), key("list")}); break;
      case 1: one({"UNLINK", key("hash")}); break;
      case 2: one({"RENAME", key("str"), key("str")}); break;  // "no such key" when absent: an error reply
      case 3: one({"RENAMENX", key("set"), key("set")}); break;
      case 4: one({"MOVE", key("str"), std::to_string(o_.dbs[pick(o_.dbs.size())])}); break;
      case 5: one({"COPY", key("zset"), key("zset"), "REPLACE"}); break;
      default: one({"RESTORE", key("restored"), "0", string_payload("restored-" + num(0, 9)), "REPLACE"}); break;
    }
  } else if (g == "lua") {
    if (pick(2)) one({"EVAL", kMultiKeyScript, "2", key("luastr"), key("lualist"), n});
    else one({"EVALSHA", "", "2", key("luastr"), key("lualist"), n});  // the sha is filled in by run()
  } else if (g == "lua-fail") {
    const std::string word = o_.hash_tags ? fmt::format("load:{{{}}}:luafail:word", tag_) : "load:luafail:word";
    one({"SET", word, "not-a-number"});
    one({"EVAL", kFailingScript, "2", key("luafail"), word, n});
  } else if (g == "db") {
    const std::string a = std::to_string(o_.dbs[pick(o_.dbs.size())]), b = std::to_string(o_.dbs[pick(o_.dbs.size())]);
    switch (pick(10)) {
      case 0: one({"FLUSHALL"}); break;
      case 1: case 2: one({"FLUSHDB"}); break;
      case 3: case 4: case 5: one({"SWAPDB", a, b}); break;
      default:  // a transaction that writes in another DB and selects its own again before EXEC
        one({"MULTI"});
        add_group("string", out);
        one({"SELECT", b});
        add_group("hash", out);
        one({"SELECT", std::to_string(step_db_)});
        one({"EXEC"});
        break;
    }
  } else if (g == "big") {
    switch (pick(3)) {
      case 0: one({"SET", key("bigstr", 3), std::string(1 << 20, static_cast<char>('a' + pick(26)))}); break;
      case 1: {
        Args a{"RPUSH", key("biglist", 3)};
        for (int i = 0; i < 5000; ++i) a.push_back(std::to_string(i));
        one(a);
        break;
      }
      default: {
        Args a{"HSET", key("bighash", 3)};
        for (int i = 0; i < 2000; ++i) a.insert(a.end(), {"f" + std::to_string(i), n});
        one(a);
        break;
      }
    }
  }
}

LoadStats LoadGenerator::run(Connection& conn, const std::atomic<bool>* stop) {
  const std::string sha = conn.checked({"SCRIPT", "LOAD", kMultiKeyScript}).str;
  Pipeline pipe(conn, PipelineLimits{o_.pipeline, 64 << 20});
  int db = -1;
  return run_steps(sha, stop, [&](const Step& step) -> Pipeline& {
    if (step.db != db) {
      pipe.send({"SELECT", std::to_string(step.db)});
      db = step.db;
    }
    return pipe;
  }, [&] { pipe.drain(); });
}

LoadStats LoadGenerator::run(Target& target, const std::atomic<bool>* stop) {
  std::string sha;
  for (Pipeline* p : target.every_pipeline(0))
    p->send({"SCRIPT", "LOAD", kMultiKeyScript}, [&sha](Reply&& r) { sha = r.str; });
  target.drain();
  return run_steps(sha, stop, [&](const Step& step) -> Pipeline& {
    // A step's keys share one hash tag: its first key routes it.
    for (const auto& cmd : step.commands) {
      CommandKeys keys = command_keys(ascii_upper(cmd[0]), cmd);
      if (!keys.written.empty()) return target.pipeline_for(step.db, cmd[keys.written.front()]);
      if (!keys.read.empty()) return target.pipeline_for(step.db, cmd[keys.read.front()]);
    }
    return target.pipeline_for(step.db, {});
  }, [&] { target.drain(); });
}

LoadStats LoadGenerator::run_steps(const std::string& sha, const std::atomic<bool>* stop,
                                   const std::function<Pipeline&(const Step&)>& pipe_for,
                                   const std::function<void()>& drain) {
  LoadStats stats;
  std::unique_ptr<std::ofstream> log;
  if (!o_.op_log.empty()) {
    log = std::make_unique<std::ofstream>(o_.op_log);
    if (!*log) throw FerryError(ExitCode::Usage, fmt::format("cannot write the op log '{}'", o_.op_log));
  }
  auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  uint64_t sent = 0;
  while (!(stop && stop->load()) && (o_.duration_s <= 0 || elapsed() < o_.duration_s) &&
         (o_.max_commands == 0 || sent < o_.max_commands)) {
    Step step = next();
    Pipeline& pipe = pipe_for(step);
    for (auto& cmd : step.commands) {
      if (cmd[0] == "EVALSHA") cmd[1] = sha;
      uint64_t i = ++sent;
      ++stats.per_command[cmd[0]];
      nlohmann::json entry;
      if (log) {
        entry = {{"i", i}, {"db", step.db}, {"args", nlohmann::json::array()}};
        for (const auto& a : cmd) entry["args"].push_back(log::printable(a, 200));
      }
      pipe.send(cmd, [&stats, &log, entry = std::move(entry)](Reply&& r) mutable {
        if (r.is_error()) ++stats.errors;
        if (log) {
          entry["reply"] = log::printable(r.summary(), 200);
          *log << entry.dump() << "\n";
        }
      });
    }
    if (o_.rate > 0) {  // pace: the commands sent so far are due at sent / rate seconds
      double due = static_cast<double>(sent) / o_.rate;
      double now = elapsed();
      if (due > now) std::this_thread::sleep_for(std::chrono::duration<double>(due - now));
    }
  }
  drain();
  stats.commands = sent;
  stats.seconds = elapsed();
  return stats;
}

}  // namespace ferry::sim
