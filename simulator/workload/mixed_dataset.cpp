#include "workload/mixed_dataset.h"
#include "core/clock.h"

#include <fmt/format.h>

#include <chrono>
#include <functional>
#include <random>

namespace ferry::sim {
namespace {

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}
  uint64_t below(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  std::string text(size_t len) {
    static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::string s(len, ' ');
    for (auto& c : s) c = kAlphabet[below(sizeof kAlphabet - 1)];
    return s;
  }
  std::string binary(size_t len) {
    std::string s(len, '\0');
    for (auto& c : s) c = static_cast<char>(below(256));
    return s;
  }

 private:
  std::mt19937_64 rng_;
};

}  // namespace

namespace {

// The dataset as commands: send(db, key, command) for each, in order.
using Send = std::function<void(int db, const std::string& key, const Args& command)>;

MixedDatasetStats generate(const MixedDatasetOptions& options, bool has_createconsumer, const Send& send) {
  Generator g(options.seed);
  MixedDatasetStats stats;
  long long base = unix_ms();

  for (int db : options.dbs) {
    for (size_t i = 0; i < options.keys_per_db; ++i) {
      std::string key = fmt::format("db{}:{}:{}", db, i, g.text(6));
      auto pipe_send = [&](const Args& a) { send(db, key, a); };
      int kind = static_cast<int>(g.below(16));
      bool big = options.big_encodings && g.chance(0.03);
      switch (kind) {
        case 0: pipe_send({"SET", key, std::to_string(static_cast<long long>(g.below(2000000)) - 1000000)}); break;
        case 1: pipe_send({"SET", key, g.text(1 + g.below(40))}); break;
        case 2: pipe_send({"SET", key, g.text(100 + g.below(2000))}); break;
        case 3:  // binary key and value, with NUL and CRLF inside
          key = "bin\r\n" + std::to_string(db) + std::string(1, '\0') + std::to_string(i) + g.binary(4);
          pipe_send({"SET", key, g.binary(1 + g.below(300)) + std::string("\0\r\n", 3)});
          break;
        case 4: {
          size_t n = big ? 300 + g.below(500) : 1 + g.below(20);
          Args a{"RPUSH", key};
          for (size_t j = 0; j < n; ++j) a.push_back(g.chance(0.2) ? std::to_string(g.below(100000)) : g.text(1 + g.below(30)));
          pipe_send(a);
          break;
        }
        case 5: {
          size_t n = big ? 600 + g.below(400) : 1 + g.below(20);
          Args a{"HSET", key};
          for (size_t j = 0; j < n; ++j) {
            a.push_back(fmt::format("f{}", j));
            a.push_back(g.text(1 + g.below(big ? 100 : 30)));
          }
          pipe_send(a);
          break;
        }
        case 6: {  // intset, or a hashtable set past set-max-intset-entries
          size_t n = big ? 600 + g.below(400) : 1 + g.below(50);
          Args a{"SADD", key};
          for (size_t j = 0; j < n; ++j) a.push_back(std::to_string(static_cast<long long>(g.below(1000000)) - 5000));
          pipe_send(a);
          break;
        }
        case 7: {
          size_t n = big ? 200 + g.below(300) : 1 + g.below(20);
          Args a{"SADD", key};
          for (size_t j = 0; j < n; ++j) a.push_back(g.text(1 + g.below(20)));
          pipe_send(a);
          break;
        }
        case 8: {  // zset with inf/-inf and fractional scores
          size_t n = big ? 200 + g.below(300) : 1 + g.below(20);
          Args a{"ZADD", key, "inf", "top", "-inf", "bottom"};
          for (size_t j = 0; j < n; ++j) {
            a.push_back(fmt::format("{:.17g}", (static_cast<double>(g.below(2000000)) - 1e6) / 7.0));
            a.push_back(g.text(1 + g.below(20)));
          }
          pipe_send(a);
          break;
        }
        case 9: {  // stream with a consumer group, pending entries per consumer and an idle consumer
          size_t n = 1 + g.below(big ? 300 : 20);
          for (size_t j = 0; j < n; ++j) pipe_send({"XADD", key, fmt::format("{}-{}", 1000 + j, j % 3), "f", g.text(8), "n", std::to_string(j)});
          pipe_send({"XGROUP", "CREATE", key, "readers", "0"});
          size_t read = 1 + g.below(n);
          pipe_send({"XREADGROUP", "GROUP", "readers", "alice", "COUNT", std::to_string(read), "STREAMS", key, ">"});
          if (read < n) {  // a second consumer with entries of its own pending, one of alice's claimed twice
            size_t more = 1 + g.below(n - read);
            pipe_send({"XREADGROUP", "GROUP", "readers", "carol", "COUNT", std::to_string(more), "STREAMS", key, ">"});
            pipe_send({"XCLAIM", key, "readers", "carol", "0", "1000-0", "RETRYCOUNT", "3"});
            read += more;
          }
          if (has_createconsumer) pipe_send({"XGROUP", "CREATECONSUMER", key, "readers", "bob"});
          // Delete an entry nobody has read: max-deleted-id moves, the PEL stays reproducible.
          if (read < n) pipe_send({"XDEL", key, fmt::format("{}-{}", 1000 + n - 1, (n - 1) % 3)});
          ++stats.streams;
          break;
        }
        case 10: {
          Args a{"PFADD", key};
          for (size_t j = 0; j < 1 + g.below(big ? 5000 : 50); ++j) a.push_back(g.text(8));
          pipe_send(a);
          break;
        }
        case 11:
          for (int j = 0; j < 5; ++j) pipe_send({"SETBIT", key, std::to_string(g.below(100000)), "1"});
          break;
        case 12:
          pipe_send({"GEOADD", key, "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania",
                     fmt::format("{:.6f}", -179.0 + g.below(358)), fmt::format("{:.6f}", -80.0 + g.below(160)), g.text(5)});
          break;
        case 13: pipe_send({"SET", key, std::to_string(g.below(1000))}); pipe_send({"INCRBYFLOAT", key, "0.5"}); break;
        case 14: pipe_send({"SET", key, ""}); break;  // the empty string is a value too
        default: pipe_send({"LPUSH", key, g.text(5), std::to_string(g.below(100))}); break;
      }
      ++stats.keys;
      if (g.chance(options.expiring_fraction)) {
        long long at = base + 3600 * 1000 + static_cast<long long>(g.below(9 * 3600 * 1000));
        pipe_send({"PEXPIREAT", key, std::to_string(at)});
        ++stats.expiring;
      }
    }
  }
  return stats;
}

}  // namespace

MixedDatasetStats fill_mixed_dataset(Connection& conn, const MixedDatasetOptions& options) {
  Pipeline pipe(conn);
  int selected = -1;
  auto stats = generate(options, conn.version() >= 60200, [&](int db, const std::string&, const Args& command) {
    if (db != selected) {
      pipe.drain();
      conn.select(db);
      selected = db;
    }
    pipe.send(command);
  });
  pipe.drain();
  return stats;
}

MixedDatasetStats fill_mixed_dataset(Target& target, const MixedDatasetOptions& options) {
  auto stats = generate(options, target.facts().version >= 60200, [&](int db, const std::string& key, const Args& command) {
    target.pipeline_for(db, key).send(command);
  });
  target.drain();
  return stats;
}


std::vector<std::string> fill_newer_types(Connection& conn, size_t keys_per_kind) {
  std::vector<std::string> kinds;
  conn.select(0);
  const long long later = unix_ms() + 3'600'000;
  Reply hpexpireat = conn.command({"COMMAND", "INFO", "HPEXPIREAT"});  // [nil] where the command is unknown
  if (hpexpireat.is_array() && !hpexpireat.elements.empty() && !hpexpireat.elements[0].is_nil()) {
    for (size_t i = 0; i < keys_per_kind; ++i) {
      std::string key = fmt::format("newer:hash-field-ttl:{}", i);
      conn.checked({"HSET", key, "keeps", "a", "expires", "b", "also-expires", "c"});
      conn.checked({"HPEXPIREAT", key, std::to_string(later + static_cast<long long>(i)), "FIELDS", "2", "expires", "also-expires"});
    }
    kinds.push_back("hash-field-ttl");
  }
  if (conn.module_names().count("vectorset")) {
    for (size_t i = 0; i < keys_per_kind; ++i)
      conn.checked({"VADD", fmt::format("newer:vectorset:{}", i), "VALUES", "3", "0.1", "0.2", std::to_string(i), "point"});
    kinds.push_back("vectorset");
  }
  return kinds;
}

}  // namespace ferry::sim
