#include "bench_runner.h"


#include "core/clock.h"
#include "core/error.h"
#include "process/child_process.h"
#include "process/redis_server.h"
#include "process/tls_files.h"
#include "redis/connection.h"
#include "target/cluster_slots.h"
#include "topology/topology.h"
#include "workload/mixed_dataset.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

namespace ferry::bench {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5))];
}

std::unique_ptr<Connection> open(const sim::RedisServer& s, const char* role) {
  Timeouts t;
  t.read = std::chrono::milliseconds(600'000);  // DEBUG DIGEST and fills of big datasets take a while
  return Connection::open(s.endpoint(role), t);
}

std::string digest(Connection& c) { return c.checked({"DEBUG", "DIGEST"}).str; }

long long info_int(Connection& c, const std::string& section, const std::string& key) {
  return std::atoll(c.info(section)[key].c_str());
}

// The dataset, written into the source.
void fill(Connection& src, const std::string& dataset, size_t keys, std::ostream& out) {
  auto started = Clock::now();
  if (dataset == "small-strings") {
    src.checked({"DEBUG", "POPULATE", std::to_string(keys), "key", "20"});
  } else if (dataset == "mixed") {
    sim::MixedDatasetOptions o;
    o.keys_per_db = keys / o.dbs.size();
    sim::fill_mixed_dataset(src, o);
  } else if (dataset == "big-keys") {
    // A list and a sorted set of `keys` elements each and a 100 MB string, in pipelined pieces.
    Pipeline p(src);
    const size_t piece = 10'000;
    for (size_t at = 0; at < keys; at += piece) {
      Args list{"RPUSH", "big:list"}, zset{"ZADD", "big:zset"};
      for (size_t i = at; i < std::min(keys, at + piece); ++i) {
        list.push_back("element-" + std::to_string(i));
        zset.push_back(std::to_string(i));
        zset.push_back("member-" + std::to_string(i));
      }
      p.send(list);
      p.send(zset);
    }
    const std::string mb(1 << 20, 'x');
    for (int i = 0; i < 100; ++i) p.send({"APPEND", "big:string", mb});
    p.drain();
  } else {
    throw FerryError(ExitCode::Usage, fmt::format("--dataset: '{}' is not small-strings, mixed or big-keys", dataset));
  }
  out << fmt::format("dataset {} written in {:.1f} s\n", dataset, since(started));
}

struct Copy {
  double seconds = 0;
  bool equal = false;
  long long peak_rss_kb = 0;  // ferry's, when it is ferry
  int exit_code = 0;
};

// Runs ferry with `args`, sampling its peak RSS (VmHWM) until it exits.
Copy run_ferry(const BenchOptions& o, const std::vector<std::string>& args, const std::string& dir) {
  std::vector<std::string> argv{o.ferry};
  argv.insert(argv.end(), args.begin(), args.end());
  Copy c;
  auto started = Clock::now();
  sim::ChildProcess ferry(argv, dir + "/ferry.out", dir + "/ferry.err");
  const std::string status = fmt::format("/proc/{}/status", ferry.pid());
  for (;;) {
    if (auto code = ferry.wait(0.02)) {
      c.exit_code = *code;
      break;
    }
    std::ifstream in(status);
    for (std::string line; std::getline(in, line);)
      if (line.rfind("VmHWM:", 0) == 0) c.peak_rss_kb = std::max(c.peak_rss_kb, std::atoll(line.c_str() + 6));
  }
  c.seconds = since(started);
  return c;
}

// A native replica's full sync into an empty server: REPLICAOF until the link is up and loaded.
Copy native_sync(sim::RedisServer& source, Connection& src, bool diskless_load, const std::string& want) {
  sim::RedisServerOptions ro;
  ro.config = {{"repl-diskless-load", diskless_load ? "on-empty-db" : "disabled"}};
  sim::RedisServer replica(ro);
  auto r = open(replica, "replica");
  src.checked({"CONFIG", "SET", "repl-diskless-sync", "yes"});
  src.checked({"CONFIG", "SET", "repl-diskless-sync-delay", "0"});
  Copy c;
  auto started = Clock::now();
  r->checked({"REPLICAOF", "127.0.0.1", std::to_string(source.port())});
  for (;;) {
    auto info = r->info("replication");
    if (info["master_link_status"] == "up" && info["master_sync_in_progress"] == "0") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  c.seconds = since(started);
  c.equal = digest(*r) == want;
  return c;
}

Copy ferry_copy(const BenchOptions& o, sim::RedisServer& source, const std::string& mode, const std::string& want,
                const std::string& dir) {
  sim::RedisServer target;
  Copy c = run_ferry(o, {"migrate", "--mode", mode, "--source", source.uri(), "--target", target.uri(),
                         "--accept-warnings", "--log-level", "warn"}, dir);
  auto t = open(target, "target");
  c.equal = c.exit_code == 0 && digest(*t) == want;
  return c;
}

void write_resp(std::FILE* f, const Args& args) {
  const std::string out = encode_command(args);
  std::fwrite(out.data(), 1, out.size(), f);
}

// The naive pipeline: SCAN, DUMP + PTTL each key, RESTORE through `redis-cli --pipe`.
Copy naive_copy(sim::RedisServer& source, Connection& src, const std::string& want) {
  sim::RedisServer target;
  Copy c;
  auto started = Clock::now();
  std::string cmd = fmt::format("redis-cli -h 127.0.0.1 -p {} --pipe > /dev/null", target.port());
  std::FILE* pipe = ::popen(cmd.c_str(), "w");
  if (!pipe) throw FerryError(ExitCode::Failed, "cannot start redis-cli --pipe");
  auto dbs = src.info("keyspace");
  for (const auto& [name, value] : dbs) {
    int db = std::atoi(name.c_str() + 2);
    src.select(db);
    write_resp(pipe, {"SELECT", std::to_string(db)});
    std::string cursor = "0";
    do {
      Reply r = src.checked({"SCAN", cursor, "COUNT", "1000"});
      cursor = r.elements[0].str;
      for (const auto& k : r.elements[1].elements) {
        src.append({"DUMP", k.str});
        src.append({"PTTL", k.str});
      }
      for (const auto& k : r.elements[1].elements) {
        Reply dump = src.read_reply(), ttl = src.read_reply();
        if (dump.type != Reply::Type::String) continue;
        write_resp(pipe, {"RESTORE", k.str, std::to_string(std::max(0LL, ttl.integer)), dump.str});
      }
    } while (cursor != "0");
  }
  src.select(0);
  c.exit_code = ::pclose(pipe);
  c.seconds = since(started);
  auto t = open(target, "target");
  c.equal = digest(*t) == want;
  return c;
}

nlohmann::json copy_json(const Copy& c, double keys, double mb) {
  return {{"seconds", c.seconds}, {"keys_per_s", keys / c.seconds}, {"mb_per_s", mb / c.seconds}, {"equal", c.equal},
          {"peak_rss_mb", c.peak_rss_kb / 1024.0}};
}

// The acknowledged offset of each replica of the source, by the port it announced.
std::map<int, long long> replica_offsets(Connection& src) {
  std::map<int, long long> out;
  for (const auto& [name, line] : src.info("replication")) {
    if (name.rfind("slave", 0) != 0 || name == "slave_expires_tracked_keys") continue;
    auto field = [&](const std::string& k) {
      auto at = line.find(k + "=");
      return at == std::string::npos ? 0LL : std::atoll(line.c_str() + at + k.size() + 1);
    };
    out[static_cast<int>(field("port"))] = field("offset");
  }
  return out;
}

// A native replica and ferry follow the same source under one redis-benchmark write load. Every
// 100 ms a marker is written to the source and both followers are polled until they hold it (lag
// in ms); acknowledged offsets give the lag in bytes (both acknowledge about once a second).
nlohmann::json incremental(const BenchOptions& o, sim::RedisServer& source, Connection& src, const std::string& dir,
                           std::ostream& out) {
  sim::RedisServerOptions ro;
  ro.config = {{"repl-diskless-load", "on-empty-db"}};
  sim::RedisServer replica(ro), target;
  auto r = open(replica, "replica"), t = open(target, "target");
  r->checked({"REPLICAOF", "127.0.0.1", std::to_string(source.port())});
  sim::ChildProcess ferry({o.ferry, "migrate", "--mode", "sync", "--source", source.uri(), "--target", target.uri(),
                           "--no-heartbeat", "--accept-warnings", "--log-level", "warn"},
                          dir + "/sync.out", dir + "/sync.err");
  auto ready_by = Clock::now() + std::chrono::seconds(600);
  for (;;) {
    auto info = src.info("replication");
    int online = 0;
    for (const auto& [k, v] : info) online += k.rfind("slave", 0) == 0 && v.find("state=online") != std::string::npos;
    if (online >= 2) break;
    if (Clock::now() > ready_by || !ferry.running())
      throw FerryError(ExitCode::Failed, fmt::format("bench: the followers did not come online (ferry: {}/sync.err)", dir));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  out << "incremental: both followers online; load starts\n";

  std::atomic<bool> load_done{false};
  const std::string cmd = fmt::format(
      "redis-benchmark -h 127.0.0.1 -p {} -t set,incr,lpush,hset -n {} -r 100000 -d 64 -c 8 -P 8 -q > {}/load.out 2>&1",
      source.port(), o.load_requests, dir);
  auto load_started = Clock::now();
  std::thread load([&] {
    (void)std::system(cmd.c_str());
    load_done = true;
  });
  auto marker = open(source, "source");
  std::vector<double> native_ms, ferry_ms, native_bytes, ferry_bytes;
  long long seq = 0;
  // Writes a marker and waits until both followers hold it: the time each took.
  auto probe = [&](double& native_s, double& ferry_s) {
    const std::string value = std::to_string(++seq);
    marker->checked({"SET", "bench:marker", value});
    auto sent = Clock::now();
    native_s = ferry_s = -1;
    while ((native_s < 0 || ferry_s < 0) && since(sent) < 120) {
      if (native_s < 0 && r->command({"GET", "bench:marker"}).str == value) native_s = since(sent);
      if (ferry_s < 0 && t->command({"GET", "bench:marker"}).str == value) ferry_s = since(sent);
    }
  };
  while (!load_done) {
    auto tick = Clock::now();
    double a = 0, b = 0;
    probe(a, b);
    native_ms.push_back(a * 1000);
    ferry_ms.push_back(b * 1000);
    const long long master = info_int(src, "replication", "master_repl_offset");
    for (const auto& [port, offset] : replica_offsets(src))
      (port == replica.port() ? native_bytes : ferry_bytes).push_back(static_cast<double>(std::max(0LL, master - offset)));
    std::this_thread::sleep_until(tick + std::chrono::milliseconds(100));
  }
  load.join();
  const double load_s = since(load_started);
  double level_native = 0, level_ferry = 0;
  probe(level_native, level_ferry);  // how soon after the load each holds a write made as it stopped
  ferry.signal(SIGTERM);
  ferry.wait(60);
  const std::string want = digest(src);
  const bool equal = digest(*r) == want && digest(*t) == want;
  auto stats = [](const std::vector<double>& v) {
    return nlohmann::json{{"p50", percentile(v, 0.5)}, {"p99", percentile(v, 0.99)},
                          {"max", v.empty() ? 0 : *std::max_element(v.begin(), v.end())}, {"samples", v.size()}};
  };
  nlohmann::json j{{"load", fmt::format("redis-benchmark -t set,incr,lpush,hset -n {} -r 100000 -d 64 -c 8 -P 8",
                                        o.load_requests)},
                   {"load_seconds", load_s},
                   {"native_lag_ms", stats(native_ms)},
                   {"ferry_lag_ms", stats(ferry_ms)},
                   {"native_lag_bytes", stats(native_bytes)},
                   {"ferry_lag_bytes", stats(ferry_bytes)},
                   {"native_level_after_load_ms", level_native * 1000},
                   {"ferry_level_after_load_ms", level_ferry * 1000},
                   {"p99_ms_ratio", percentile(ferry_ms, 0.99) / std::max(percentile(native_ms, 0.99), 1e-3)},
                   {"equal_after", equal}};
  out << fmt::format("incremental: {:.1f} s of load, lag p99 native {:.1f} ms, ferry {:.1f} ms\n", load_s,
                     percentile(native_ms, 0.99), percentile(ferry_ms, 0.99));
  return j;
}

// Samples every master's total_commands_processed every 50 ms while a copy runs: the share of
// intervals in which every master took commands says whether they are written in parallel.
class MasterActivity {
 public:
  explicit MasterActivity(sim::Topology& cluster) {
    for (size_t i = 0; i < cluster.shard_count(); ++i) conns_.push_back(open(cluster.master(i), "target"));
    thread_ = std::thread([this] {
      std::vector<long long> last(conns_.size(), -1);
      while (!stop_) {
        bool all = true, any = false;
        for (size_t i = 0; i < conns_.size(); ++i) {
          const long long now = info_int(*conns_[i], "stats", "total_commands_processed");
          const bool grew = last[i] >= 0 && now - last[i] > 2;  // more than the sampler's own INFO
          all = all && grew;
          any = any || grew;
          last[i] = now;
        }
        if (any) ++busy_, all_busy_ += all;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
  }
  // Of the intervals in which any master took writes, the share in which every master did.
  double stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return busy_ ? static_cast<double>(all_busy_) / busy_ : 0;
  }
  ~MasterActivity() { stop(); }

 private:
  std::vector<std::unique_ptr<Connection>> conns_;
  std::atomic<bool> stop_{false};
  long long busy_ = 0, all_busy_ = 0;
  std::thread thread_;
};

long long cluster_keys(sim::Topology& cluster) {
  long long n = 0;
  for (size_t i = 0; i < cluster.shard_count(); ++i) n += open(cluster.master(i), "target")->checked({"DBSIZE"}).integer;
  return n;
}

// A cluster source of 1, 3 and 6 shards holding the same keys (DEBUG POPULATE on each master, its
// share under a hash tag of its first slot), copied by snapshot and by scan into one server: keys/s per
// shard count, ferry running one replica task (or reader) per shard side by side.
nlohmann::json source_shards_phase(const BenchOptions& o, long long keys, const std::string& dir, std::ostream& out) {
  nlohmann::json j = nlohmann::json::array();
  for (int shards : o.source_shards) {
    sim::TopologySpec spec;
    spec.cluster_masters = shards;
    sim::Topology cluster(spec);
    for (int i = 0; i < shards; ++i) {  // keys of a slot the master owns: {tag}:key:N
      const int first_slot = std::atoi(cluster.slots_of(static_cast<size_t>(i)).c_str());
      open(cluster.master(static_cast<size_t>(i)), "source")
          ->checked({"DEBUG", "POPULATE", std::to_string(keys / shards), fmt::format("{{{}}}:key", tag_for_slot(first_slot)),
                     "20"});
    }
    const long long total = cluster_keys(cluster);
    sim::RedisServer target;
    auto t = open(target, "target");
    nlohmann::json row{{"shards", shards}, {"keys", total}};
    for (const char* mode : {"snapshot", "scan"}) {
      std::vector<double> seconds;
      long long peak_kb = 0;
      bool equal = true;
      for (int run = 0; run < o.runs; ++run) {
        t->checked({"FLUSHALL"});
        Copy c = run_ferry(o, {"migrate", "--mode", mode, "--source", cluster.master(0).uri(), "--target", target.uri(),
                               "--accept-warnings", "--log-level", "warn"},
                           dir);
        seconds.push_back(c.seconds);
        peak_kb = std::max(peak_kb, c.peak_rss_kb);
        equal = equal && c.exit_code == 0 && t->checked({"DBSIZE"}).integer == total;
      }
      const double secs = median(seconds);
      row[mode] = {{"seconds", secs}, {"keys_per_s", total / secs}, {"equal", equal}, {"peak_rss_mb", peak_kb / 1024.0}};
      out << fmt::format("source of {} shard(s): ferry {} {:.2f} s, {:.0f} keys/s\n", shards, mode, secs, total / secs);
    }
    j.push_back(row);
  }
  return j;
}

// AOF import: the source's AOF, rewritten with aof-use-rdb-preamble no (every key as commands, the
// path an AOF's incr files take), imported by `ferry migrate --mode aof` against redis-server loading
// the same directory at start (timed until it answers PING), runs alternated, both checked by digest.
nlohmann::json aof_phase(const BenchOptions& o, Connection& src, sim::RedisServer& source, long long dbsize, double used_mb,
                         const std::string& want, const std::string& dir, std::ostream& out) {
  src.checked({"CONFIG", "SET", "aof-use-rdb-preamble", "no"});
  src.checked({"CONFIG", "SET", "appendonly", "yes"});  // a rewrite writes the base
  sim::wait_aof_rewritten(src, 600);
  const std::string aof = dir + "/appendonlydir";
  std::filesystem::copy(source.dir() + "/appendonlydir", aof, std::filesystem::copy_options::recursive);
  src.checked({"CONFIG", "SET", "appendonly", "no"});
  src.checked({"CONFIG", "SET", "aof-use-rdb-preamble", "yes"});
  uint64_t bytes = 0;
  for (const auto& e : std::filesystem::directory_iterator(aof)) bytes += std::filesystem::file_size(e.path());
  std::vector<Copy> native, ferry;
  for (int run = 0; run < o.runs; ++run) {
    auto one = [&](bool native_first) {
      if (native_first) {
        sim::RedisServerOptions ro;
        ro.files = {{"appendonlydir", aof}};
        ro.config = {{"appendonly", "yes"}};
        auto started = Clock::now();
        sim::RedisServer loaded(ro);
        Copy c;
        c.seconds = since(started);
        c.equal = digest(*open(loaded, "target")) == want;
        native.push_back(c);
      } else {
        sim::RedisServer target;
        Copy c = run_ferry(o, {"migrate", "--mode", "aof", "--aof", aof, "--target", target.uri(), "--accept-warnings",
                               "--log-level", "warn"}, dir);
        c.equal = c.exit_code == 0 && digest(*open(target, "target")) == want;
        ferry.push_back(c);
      }
    };
    one(run % 2 == 0);
    one(run % 2 != 0);
    out << fmt::format("aof run {}: redis-server loads it {:.2f} s, ferry imports it {:.2f} s\n", run + 1,
                       native.back().seconds, ferry.back().seconds);
  }
  auto med = [](const std::vector<Copy>& v) {
    std::vector<double> secs;
    for (const auto& c : v) secs.push_back(c.seconds);
    return median(secs);
  };
  Copy m_native{med(native), std::all_of(native.begin(), native.end(), [](const Copy& c) { return c.equal; })};
  Copy m_ferry{med(ferry), std::all_of(ferry.begin(), ferry.end(), [](const Copy& c) { return c.equal; })};
  for (const auto& c : ferry) m_ferry.peak_rss_kb = std::max(m_ferry.peak_rss_kb, c.peak_rss_kb);
  return {{"aof_bytes", bytes},
          {"format", "resp (aof-use-rdb-preamble no)"},
          {"native_load", copy_json(m_native, dbsize, used_mb)},
          {"ferry_aof", copy_json(m_ferry, dbsize, used_mb)},
          {"ratio_to_native_load", m_ferry.seconds / m_native.seconds}};
}

// TLS: the same snapshot over TLS (a TLS-only copy of the source, loaded from its RDB; a TLS-only
// target asking for ferry's client certificate) against plain TCP, runs alternated, every copy
// checked by digest. The ratio is TLS time over plain time.
nlohmann::json tls_phase(const BenchOptions& o, Connection& src, sim::RedisServer& source, long long dbsize, double used_mb,
                         const std::string& want, const std::string& dir, std::ostream& out) {
  src.checked({"SAVE"});
  const sim::TlsFiles files = sim::make_tls_files();
  sim::RedisServerOptions so;
  so.tls = sim::server_tls(files, "no");
  so.rdb_file = source.dir() + "/dump.rdb";
  sim::RedisServer tls_source(so);
  std::vector<Copy> plain, tls;
  for (int run = 0; run < o.runs; ++run) {
    auto one = [&](bool over_tls) {
      if (!over_tls) return plain.push_back(ferry_copy(o, source, "snapshot", want, dir));
      sim::RedisServerOptions to;
      to.tls = sim::server_tls(files, "yes");
      sim::RedisServer target(to);
      std::vector<std::string> args{"migrate", "--mode", "snapshot", "--source", tls_source.uri(), "--target", target.uri(),
                                    "--accept-warnings", "--log-level", "warn"};
      for (const auto& f : tls_source.tls_flags("source")) args.push_back(f);
      for (const auto& f : target.tls_flags("target")) args.push_back(f);
      Copy c = run_ferry(o, args, dir);
      c.equal = c.exit_code == 0 && digest(*open(target, "target")) == want;
      tls.push_back(c);
    };
    one(run % 2 != 0);
    one(run % 2 == 0);
    out << fmt::format("tls run {}: ferry snapshot plain {:.2f} s, over TLS {:.2f} s\n", run + 1, plain.back().seconds,
                       tls.back().seconds);
  }
  auto summary = [](const std::vector<Copy>& v) {
    std::vector<double> secs;
    Copy m;
    m.equal = true;
    for (const auto& c : v) secs.push_back(c.seconds), m.equal = m.equal && c.equal, m.peak_rss_kb = std::max(m.peak_rss_kb, c.peak_rss_kb);
    m.seconds = median(secs);
    return m;
  };
  Copy m_plain = summary(plain), m_tls = summary(tls);
  return {{"ferry_snapshot_plain", copy_json(m_plain, dbsize, used_mb)},
          {"ferry_snapshot_tls", copy_json(m_tls, dbsize, used_mb)},
          {"ratio_tls_to_plain", m_tls.seconds / m_plain.seconds},
          {"tls", "TLS 1.3 (OpenSSL default suites), EC P-256 certificates, mutual TLS on the target"}};
}

// Snapshot and sync into a cluster of `cluster_masters` masters: keys/s against the same copy into
// one server, whether the masters are written in parallel, and the lag under the incremental load.
// Equal: ferry verify (key by key on each key's master) passes.
nlohmann::json cluster_phase(const BenchOptions& o, sim::RedisServer& source, Connection& src, long long dbsize,
                             double used_mb, double standalone_snapshot_s, const std::string& dir, std::ostream& out) {
  sim::TopologySpec spec;
  spec.cluster_masters = o.cluster_masters;
  sim::Topology cluster(spec);
  const std::string target = cluster.master(0).uri();
  std::vector<double> seconds, parallel;
  long long peak_kb = 0;
  bool counts_equal = true;
  for (int run = 0; run < o.runs; ++run) {
    for (size_t i = 0; i < cluster.shard_count(); ++i) open(cluster.master(i), "target")->checked({"FLUSHALL"});
    MasterActivity activity(cluster);
    Copy c = run_ferry(o, {"migrate", "--mode", "snapshot", "--source", source.uri(), "--target", target,
                           "--accept-warnings", "--log-level", "warn", "--db", "0"}, dir);
    parallel.push_back(activity.stop());
    seconds.push_back(c.seconds);
    peak_kb = std::max(peak_kb, c.peak_rss_kb);
    counts_equal = counts_equal && c.exit_code == 0 && cluster_keys(cluster) == dbsize;
    out << fmt::format("cluster run {}: ferry snapshot into {} masters {:.2f} s\n", run + 1, cluster.shard_count(),
                       seconds.back());
  }
  Copy v = run_ferry(o, {"verify", "--source", source.uri(), "--target", target, "--rounds", "1", "--log-level", "warn"},
                     dir);
  Copy snap{median(seconds), counts_equal && v.exit_code == 0, peak_kb};
  nlohmann::json j{{"masters", cluster.shard_count()},
                   {"ferry_snapshot", copy_json(snap, dbsize, used_mb)},
                   {"ratio_to_standalone_snapshot", snap.seconds / standalone_snapshot_s},
                   {"all_masters_busy_share", median(parallel)}};

  // Sync under the incremental load: the lag of a marker written every 100 ms, read on its master.
  if (o.incremental) {
    for (size_t i = 0; i < cluster.shard_count(); ++i) open(cluster.master(i), "target")->checked({"FLUSHALL"});
    sim::ChildProcess ferry({o.ferry, "migrate", "--mode", "sync", "--source", source.uri(), "--target", target,
                             "--no-heartbeat", "--accept-warnings", "--log-level", "warn", "--db", "0"},
                            dir + "/cluster-sync.out", dir + "/cluster-sync.err");
    auto ready_by = Clock::now() + std::chrono::seconds(600);
    while (replica_offsets(src).empty() || src.info("replication")["slave0"].find("state=online") == std::string::npos) {
      if (Clock::now() > ready_by || !ferry.running())
        throw FerryError(ExitCode::Failed, fmt::format("bench: ferry did not stream into the cluster ({}/cluster-sync.err)", dir));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const std::string marker_key = "bench:marker";
    auto owner = open(cluster.master(cluster.shard_of_key(marker_key)), "target");
    auto marker = open(source, "source");
    std::atomic<bool> load_done{false};
    const std::string cmd = fmt::format(
        "redis-benchmark -h 127.0.0.1 -p {} -t set,incr,lpush,hset -n {} -r 100000 -d 64 -c 8 -P 8 -q > {}/cluster-load.out "
        "2>&1",
        source.port(), o.load_requests, dir);
    MasterActivity activity(cluster);
    auto load_started = Clock::now();
    std::thread load([&] {
      (void)std::system(cmd.c_str());
      load_done = true;
    });
    std::vector<double> lag_ms;
    long long seq = 0;
    auto probe = [&] {
      const std::string value = std::to_string(++seq);
      marker->checked({"SET", marker_key, value});
      auto sent = Clock::now();
      while (since(sent) < 120 && owner->command({"GET", marker_key}).str != value) {
      }
      return since(sent) * 1000;
    };
    while (!load_done) {
      auto tick = Clock::now();
      lag_ms.push_back(probe());
      std::this_thread::sleep_until(tick + std::chrono::milliseconds(100));
    }
    load.join();
    const double load_s = since(load_started);
    const double level_ms = probe();
    const double busy = activity.stop();
    ferry.signal(SIGTERM);
    ferry.wait(60);
    Copy after = run_ferry(o, {"verify", "--source", source.uri(), "--target", target, "--rounds", "1", "--log-level",
                               "warn"}, dir);
    j["sync"] = {{"load_seconds", load_s},
                 {"lag_ms", {{"p50", percentile(lag_ms, 0.5)}, {"p99", percentile(lag_ms, 0.99)},
                             {"max", lag_ms.empty() ? 0 : *std::max_element(lag_ms.begin(), lag_ms.end())},
                             {"samples", lag_ms.size()}}},
                 {"level_after_load_ms", level_ms},
                 {"all_masters_busy_share", busy},
                 {"equal_after", after.exit_code == 0}};
    out << fmt::format("cluster sync: {:.1f} s of load, lag p99 {:.1f} ms\n", load_s, percentile(lag_ms, 0.99));
  }
  return j;
}

}  // namespace

// The tools the baselines run, checked before anything starts (a missing one would show as a failed copy).
void require_tools(const BenchOptions& o) {
  std::vector<std::string> need;
  if (o.scan) need.push_back("redis-cli");
  if (o.incremental) need.push_back("redis-benchmark");
  for (const auto& tool : need)
    if (std::system(fmt::format("command -v {} >/dev/null 2>&1", tool).c_str()) != 0)
      throw FerryError(ExitCode::Usage, fmt::format("ferry bench needs {} on the PATH (package redis-tools) for its "
                                                    "baseline; install it or leave that phase out with --skip",
                                                    tool));
}

nlohmann::json run_bench(const BenchOptions& o, std::ostream& out) {
  require_tools(o);
  const size_t keys = o.keys ? o.keys : o.dataset == "small-strings" ? 1'000'000 : o.dataset == "mixed" ? 300'000 : 3'000'000;
  std::string tmpl = "/tmp/ferry-bench-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl.data());
  nlohmann::json j;
  j["dataset"] = o.dataset;
  j["keys_option"] = keys;
  j["runs"] = o.runs;
  j["machine"] = {{"cores", std::thread::hardware_concurrency()},
                  {"note", "one machine: the servers, ferry and the load share its cores"}};

  sim::RedisServer source;
  auto src = open(source, "source");
  j["redis_version"] = src->version_string();
  fill(*src, o.dataset, keys, out);
  const std::string want = digest(*src);
  long long dbsize = 0;
  for (const auto& [name, value] : src->info("keyspace")) dbsize += std::atoll(value.c_str() + value.find('=') + 1);
  const double used_mb = info_int(*src, "memory", "used_memory") / 1e6;
  j["source_keys"] = dbsize;
  out << fmt::format("source: {} keys, used_memory {:.1f} MB (Redis {})\n", dbsize, used_mb, src->version_string());
  j["source_used_memory_mb"] = used_mb;

  // Full sync: runs alternated so that neither side always runs on a warmer machine.
  std::vector<Copy> fast, disk, snap;
  for (int run = 0; run < o.runs; ++run) {
    auto one = [&](int which) {
      if (which == 0) fast.push_back(native_sync(source, *src, true, want));
      if (which == 1) disk.push_back(native_sync(source, *src, false, want));
      if (which == 2) snap.push_back(ferry_copy(o, source, "snapshot", want, dir));
    };
    const int order[2][3] = {{0, 1, 2}, {2, 1, 0}};
    for (int which : order[run % 2]) one(which);
    out << fmt::format("run {}: native diskless {:.2f} s, native disk {:.2f} s, ferry snapshot {:.2f} s\n", run + 1,
                       fast.back().seconds, disk.back().seconds, snap.back().seconds);
  }
  auto med = [](const std::vector<Copy>& v) {
    std::vector<double> s;
    for (const auto& c : v) s.push_back(c.seconds);
    return median(s);
  };
  auto all_equal = [](const std::vector<Copy>& v) {
    return std::all_of(v.begin(), v.end(), [](const Copy& c) { return c.equal; });
  };
  auto peak = [](const std::vector<Copy>& v) {
    long long p = 0;
    for (const auto& c : v) p = std::max(p, c.peak_rss_kb);
    return p;
  };
  Copy m_fast{med(fast), all_equal(fast)}, m_disk{med(disk), all_equal(disk)}, m_snap{med(snap), all_equal(snap), peak(snap)};
  j["full_sync"] = {{"native_diskless_load", copy_json(m_fast, dbsize, used_mb)},
                    {"native_disk_load", copy_json(m_disk, dbsize, used_mb)},
                    {"ferry_snapshot", copy_json(m_snap, dbsize, used_mb)},
                    {"ratio_to_native_diskless", m_snap.seconds / m_fast.seconds},
                    {"ratio_to_native_disk", m_snap.seconds / m_disk.seconds}};

  if (o.scan) {
    std::vector<Copy> scan, naive;
    for (int run = 0; run < o.runs; ++run) {
      if (run % 2 == 0) scan.push_back(ferry_copy(o, source, "scan", want, dir)), naive.push_back(naive_copy(source, *src, want));
      else naive.push_back(naive_copy(source, *src, want)), scan.push_back(ferry_copy(o, source, "scan", want, dir));
    }
    Copy m_scan{med(scan), all_equal(scan), peak(scan)}, m_naive{med(naive), all_equal(naive)};
    j["scan"] = {{"ferry_scan", copy_json(m_scan, dbsize, used_mb)},
                 {"naive_redis_cli_pipe", copy_json(m_naive, dbsize, used_mb)},
                 {"speedup_over_naive", m_naive.seconds / m_scan.seconds}};
  }

  if (o.verify) {
    sim::RedisServer target;
    run_ferry(o, {"migrate", "--mode", "snapshot", "--source", source.uri(), "--target", target.uri(),
                  "--accept-warnings", "--log-level", "warn"}, dir);
    Copy v = run_ferry(o, {"verify", "--source", source.uri(), "--target", target.uri(), "--log-level", "warn"}, dir);
    j["verify"] = {{"seconds", v.seconds}, {"keys_per_s", dbsize / v.seconds}, {"exit_code", v.exit_code},
                   {"peak_rss_mb", v.peak_rss_kb / 1024.0}};
  }
  if (o.aof) j["aof"] = aof_phase(o, *src, source, dbsize, used_mb, want, dir, out);
  if (o.tls) j["tls"] = tls_phase(o, *src, source, dbsize, used_mb, want, dir, out);
  // Before the incremental phase, whose load adds keys: the same dataset as the copies above.
  if (o.cluster && o.dataset != "mixed") {  // a cluster has DB 0 only; the mixed dataset spans three DBs
    j["cluster"] = cluster_phase(o, source, *src, dbsize, used_mb, m_snap.seconds, dir, out);
  }
  if (!o.source_shards.empty() && o.dataset == "small-strings") j["source_shards"] = source_shards_phase(o, dbsize, dir, out);
  if (o.incremental) j["incremental"] = incremental(o, source, *src, dir, out);
  out << fmt::format("\n{}\n", j.dump(2));
  std::filesystem::remove_all(dir);
  return j;
}

}  // namespace ferry::bench
