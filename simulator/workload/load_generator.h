// A write load from one seed, for the simulator and `ferry sim load`: a weighted mix of every write
// command ferry replicates, on every type, in several DBs, at a target rate for a duration. The
// commands are a function of the seed alone (and of `base_ms` for absolute expiries): replies never
// steer what comes next, so two runs with one seed send the same commands. Each command and its
// reply can go to an op log (JSON lines) for the validator's explanations.
//
// The groups of the mix and what they send:
//   string     SET APPEND SETRANGE SETNX GETSET MSET MSETNX INCR INCRBY DECR DECRBY INCRBYFLOAT
//              SETBIT BITOP GETDEL
//   expiry     SETEX PSETEX SET EX/PX/EXAT/PXAT EXPIRE PEXPIRE EXPIREAT PEXPIREAT PERSIST, and keys
//              that expire during the run (PX 200-3000)
//   list       RPUSH LPUSH LPUSHX RPUSHX LINSERT LSET LREM LTRIM LPOP RPOP RPOPLPUSH LMOVE BLPOP
//              BRPOP BRPOPLPUSH BLMOVE (blocking ones right after a push to their list)
//   push       high-rate list pushes: RPUSH/LPUSH of 20-100 elements onto a few lists
//   hash       HSET HMSET HSETNX HINCRBY HINCRBYFLOAT HDEL
//   set        SADD SREM SPOP SMOVE SINTERSTORE SUNIONSTORE SDIFFSTORE
//   zset       ZADD ZINCRBY ZREM ZREMRANGEBYSCORE ZREMRANGEBYRANK ZREMRANGEBYLEX ZUNIONSTORE
//              ZINTERSTORE ZPOPMIN
//   stream     XADD XDEL XTRIM XGROUP CREATE/CREATECONSUMER XREADGROUP XACK XCLAIM XAUTOCLAIM
//   other      PFADD PFMERGE GEOADD PUBLISH
//   keyspace   DEL UNLINK RENAME RENAMENX MOVE COPY RESTORE (of a payload it made with DUMP once)
//   multi      MULTI, 2-5 commands of the groups above, EXEC
//   lua        EVAL and EVALSHA writing several keys
//   lua-fail   a script that writes, then fails midway (its first write stays)
//   big        a big key: a 1 MB string, a 5,000-element list, a 2,000-field hash
//   (with hash_tags, every key is "load:{T}:<type>:<n>", T = n mod hash_tags, one T per step)
//   db         (not in the default mix: it empties DBs) SWAPDB, FLUSHDB, FLUSHALL, and MULTI/EXEC
//              with a SELECT of another DB inside (and back before EXEC)
#pragma once

#include "redis/connection.h"
#include "target/target.h"

#include <atomic>
#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace ferry::sim {

struct LoadOptions {
  uint64_t seed = 1;
  double rate = 1000;        // commands per second; 0: as fast as the server answers
  double duration_s = 10;    // 0: until max_commands or a stop
  uint64_t max_commands = 0; // 0: no limit
  std::vector<int> dbs{0, 1};
  size_t keyspace = 200;     // keys per group and type
  std::map<std::string, double> weights = default_weights();
  std::string op_log;        // a file: one JSON line per command (its args and reply, printable)
  long long base_ms = 0;     // absolute expiries are base_ms + offsets (0: the time of the start)
  size_t pipeline = 32;      // commands in flight
  // For a Redis Cluster target: keys carry one of `hash_tags` hash tags ("load:{7}:str:7"), and
  // the keys of one step (a command, a script, a MULTI/EXEC) share one, so every step stays in one
  // slot. With tag_per_command, a MULTI/EXEC's commands each draw their own tag (one command's
  // keys still share one): transactions that span slots. 0: no tags.
  size_t hash_tags = 0;
  bool tag_per_command = false;

  static std::map<std::string, double> default_weights();
};

struct LoadStats {
  uint64_t commands = 0;
  uint64_t errors = 0;  // error replies (expected from lua-fail, WRONGTYPE after RENAME etc.)
  std::map<std::string, uint64_t> per_command;
  double seconds = 0;
};

class LoadGenerator {
 public:
  // Throws FerryError(Usage) for an unknown group name or a mix whose weights sum to 0.
  explicit LoadGenerator(LoadOptions options);

  // The next step: one command, or a MULTI ... EXEC block, and the DB it runs in.
  struct Step {
    int db = 0;
    std::vector<Args> commands;
  };
  Step next();

  // Sends steps to `conn` at the rate until the duration, max_commands or *stop.
  LoadStats run(Connection& conn, const std::atomic<bool>* stop = nullptr);
  // The same through a target's routing: a Redis Cluster gets each step on its slot's master,
  // redirections followed (use hash_tags, so that a step's keys share a slot).
  LoadStats run(Target& target, const std::atomic<bool>* stop = nullptr);

  static const std::vector<std::string>& groups();

 private:
  std::string key(const std::string& type, size_t space = 0);
  uint64_t pick(uint64_t n) { return n ? rng_() % n : 0; }
  std::string num(long long from, long long to) { return std::to_string(from + static_cast<long long>(pick(to - from + 1))); }
  void add_group(const std::string& group, std::vector<Args>& out);
  LoadStats run_steps(const std::string& sha, const std::atomic<bool>* stop,
                      const std::function<Pipeline&(const Step&)>& pipe_for, const std::function<void()>& drain);

  LoadOptions o_;
  std::mt19937_64 rng_;
  std::vector<std::pair<std::string, double>> mix_;  // cumulative
  double total_ = 0;
  uint64_t counter_ = 0;
  int step_db_ = 0;  // the DB of the step being made
  size_t tag_ = 0;   // the hash tag of the keys being made (hash_tags > 0)
};

}  // namespace ferry::sim
