#include "workload/command_workload.h"
#include "core/clock.h"

#include <fmt/format.h>

#include <chrono>

namespace ferry::sim {
CommandWorkload::CommandWorkload(Connection& conn, uint64_t seed, int other_db)
    : conn_(conn), seed_(seed), state_(seed * 0x9E3779B97F4A7C15ULL + 1), other_db_(other_db) {}

Reply CommandWorkload::run(Args args) {
  ++stats_.commands;
  ++stats_.per_command[args[0]];
  return conn_.checked(args);
}

std::string CommandWorkload::key(const std::string& kind) {
  // A small key space per kind, so later rounds overwrite and mutate earlier values.
  state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
  return fmt::format("w{}:{}:{}", seed_, kind, (state_ >> 33) % 5);
}

void CommandWorkload::round() {
  ++round_;
  std::string r = std::to_string(round_);
  conn_.select(0);
  // Strings and counters.
  std::string s = key("str"), c = key("ctr"), f = key("flt");
  run({"SET", s, "v" + r});
  run({"APPEND", s, "-tail"});
  run({"SETRANGE", s, "1", "XY"});
  run({"SETNX", key("nx"), r});
  run({"GETSET", key("gs"), r});
  run({"MSET", key("m"), r, key("m"), r + "b"});
  run({"MSETNX", "w" + std::to_string(seed_) + ":msetnx:" + r, r});
  run({"INCR", c});
  run({"INCRBY", c, "5"});
  run({"DECR", c});
  run({"DECRBY", c, "2"});
  run({"SET", f, "1.5"});
  run({"INCRBYFLOAT", f, "0.25"});
  run({"SETBIT", key("bits"), std::to_string(round_ * 7 % 1000), "1"});
  run({"BITOP", "OR", key("bitop"), key("bits"), key("bits")});
  // Expiries of every form.
  run({"SETEX", key("ex"), "1000", r});
  run({"PSETEX", key("ex"), "900000", r});
  run({"SET", key("ex"), r, "EX", "2000"});
  run({"SET", key("exat"), r, "PXAT", std::to_string(unix_ms() + 3600000)});
  run({"SET", key("short"), r, "PX", "300"});  // expires during the test: deleted on both sides
  std::string e = key("exp");
  run({"SET", e, r});
  run({"EXPIRE", e, "5000"});
  run({"PEXPIRE", e, "5000000"});
  run({"EXPIREAT", e, std::to_string(unix_ms() / 1000 + 7000)});
  run({"PEXPIREAT", e, std::to_string(unix_ms() + 7000123)});
  run({"PERSIST", key("exp")});
  // Lists, blocking pops included.
  std::string l = key("list"), l2 = key("list");
  run({"RPUSH", l, "a" + r, "b", "c", "d"});
  run({"LPUSH", l, "z" + r});
  run({"LPUSHX", l, "x"});
  run({"RPUSHX", l, "y"});
  run({"LINSERT", l, "BEFORE", "b", "ins"});
  run({"LSET", l, "0", "set" + r});
  run({"LREM", l, "1", "c"});
  run({"LTRIM", l, "0", "50"});
  run({"LPOP", l});
  run({"RPOP", l});
  run({"RPUSH", l2, "p", "q"});
  run({"RPOPLPUSH", l2, l});
  run({"BLPOP", l, "1"});
  run({"BRPOP", l, "1"});
  run({"BRPOPLPUSH", l, l2, "1"});
  // Hashes.
  std::string h = key("hash");
  run({"HSET", h, "f" + r, "v", "n", "1"});
  run({"HMSET", h, "a", "1", "b", "2"});
  run({"HSETNX", h, "nx" + r, "v"});
  run({"HINCRBY", h, "n", "3"});
  run({"HINCRBYFLOAT", h, "fl", "1.25"});
  run({"HDEL", h, "a"});
  // Sets.
  std::string st = key("set"), st2 = key("set");
  run({"SADD", st, "a", "b", r, "c"});
  run({"SADD", st2, "b", "c", "d"});
  run({"SREM", st, "a"});
  run({"SMOVE", st2, st, "d"});
  run({"SPOP", st2});
  run({"SDIFFSTORE", key("sdiff"), st, st2});
  run({"SINTERSTORE", key("sinter"), st, st2});
  run({"SUNIONSTORE", key("sunion"), st, st2});
  // Sorted sets.
  std::string z = key("zset"), z2 = key("zset");
  run({"ZADD", z, "1", "a", "2", "b", "3", "c" + r, "inf", "top"});
  run({"ZADD", z2, "1", "a", "5", "e"});
  run({"ZINCRBY", z, "0.5", "a"});
  run({"ZREM", z, "b"});
  run({"ZUNIONSTORE", key("zunion"), "2", z, z2});
  run({"ZINTERSTORE", key("zinter"), "2", z, z2});
  run({"ZADD", key("zlex"), "0", "a", "0", "b", "0", "c"});
  run({"ZREMRANGEBYLEX", key("zlex"), "[a", "[a"});
  run({"ZREMRANGEBYRANK", z2, "0", "0"});
  run({"ZREMRANGEBYSCORE", z, "100", "200"});
  run({"GEOADD", key("geo"), "13.361389", "38.115556", "p" + r});
  // HyperLogLog.
  run({"PFADD", key("hll"), "a", r, "b" + r});
  run({"PFMERGE", key("hllm"), key("hll"), key("hll")});
  // Streams and groups.
  std::string x = key("stream");
  run({"XADD", x, "*", "f", r});
  run({"XADD", x, "*", "g", r});
  if (run({"XINFO", "STREAM", x}).is_array()) {
    Reply groups = run({"XINFO", "GROUPS", x});
    if (groups.elements.empty()) run({"XGROUP", "CREATE", x, "grp", "0"});
  }
  run({"XGROUP", "CREATECONSUMER", x, "grp", "c" + std::to_string(round_ % 3)});
  run({"XREADGROUP", "GROUP", "grp", "c1", "COUNT", "1", "STREAMS", x, ">"});
  run({"XCLAIM", x, "grp", "c2", "0", "0-1"});
  run({"XAUTOCLAIM", x, "grp", "c2", "0", "0-0", "COUNT", "1"});
  run({"XTRIM", x, "MAXLEN", "50"});
  Reply first = run({"XRANGE", x, "-", "+", "COUNT", "1"});
  if (round_ % 4 == 0 && !first.elements.empty()) run({"XDEL", x, first.elements[0].elements[0].str});
  // Transactions, scripts, RESTORE, RENAME, MOVE, DEL.
  run({"MULTI"});
  run({"INCR", "w" + std::to_string(seed_) + ":tx:a"});
  run({"SET", "w" + std::to_string(seed_) + ":tx:b", r});
  run({"LPUSH", "w" + std::to_string(seed_) + ":tx:l", r});
  run({"EXEC"});
  if (script_sha_.empty())
    script_sha_ = run({"SCRIPT", "LOAD", "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])"}).str;
  run({"EVAL", "redis.call('RPUSH', KEYS[1], ARGV[1]); return 1", "1", key("lua"), r});
  run({"EVALSHA", script_sha_, "2", key("luas"), key("luac"), r});
  Reply dump = run({"DUMP", s});
  if (!dump.is_nil()) run({"RESTORE", key("restored"), "0", dump.str, "REPLACE"});
  std::string ren = key("ren"), rennx = key("rennx");
  run({"SET", ren, r});
  run({"RENAME", ren, key("renamed")});
  run({"SET", rennx, r});
  run({"RENAMENX", rennx, "w" + std::to_string(seed_) + ":rennx:" + r});
  run({"PUBLISH", "ferry-test-channel", r});
  std::string mv = "w" + std::to_string(seed_) + ":move:" + r;
  run({"SET", mv, r});
  run({"MOVE", mv, std::to_string(other_db_)});
  run({"DEL", key("m")});
  // The other DB.
  conn_.select(other_db_);
  run({"SET", key("other"), r});
  run({"INCR", key("otherctr")});
  conn_.select(0);
}

}  // namespace ferry::sim
