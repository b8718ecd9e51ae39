#include "scenario/scenario_runner.h"

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "process/child_process.h"
#include "proxy/fault_proxy.h"
#include "redis/dialer.h"
#include "task/metrics_http.h"
#include "target/target.h"
#include "topology/topology.h"
#include "verify/validator.h"
#include "workload/load_generator.h"
#include "workload/mixed_dataset.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

namespace ferry::sim {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Thrown when the scenario cannot run here (a server version that is not fetched): a skip, not a failure.
struct SkipScenario : std::runtime_error {
  using std::runtime_error::runtime_error;
};

RedisServerOptions server_options(const ServerSpec& s, const TlsFiles& tls_files) {
  RedisServerOptions o;
  if (s.tls) o.tls = server_tls(tls_files, "yes");
  auto binary = server_binary(s.version);
  if (!binary) throw SkipScenario(fmt::format("server version '{}' is not fetched here (run tools/fetch-servers)", s.version));
  o.binary = *binary;
  o.maxmemory = s.maxmemory;
  o.maxmemory_policy = s.policy;
  o.databases = s.databases;
  o.config = s.config;
  return o;
}

long long info_number(const std::map<std::string, std::string>& info, const std::string& key) {
  auto it = info.find(key);
  return it == info.end() ? 0 : std::atoll(it->second.c_str());
}

// SCAN every DB: keys whose time has passed are deleted as they are touched, everywhere.
void touch_all(Connection& conn) {
  for (const auto& [name, value] : conn.info("keyspace")) {
    if (name.rfind("db", 0) != 0) continue;
    conn.select(std::atoi(name.c_str() + 2));
    std::string cursor = "0";
    do cursor = conn.checked({"SCAN", cursor, "COUNT", "1000"}).elements[0].str;
    while (cursor != "0");
  }
  conn.select(0);
}

// "==0", ">0", ">=2", "<5", "!=0" against a number.
bool holds(double value, const std::string& condition, std::string& why) {
  std::string op;
  size_t i = 0;
  while (i < condition.size() && std::string("<>=!").find(condition[i]) != std::string::npos) op += condition[i++];
  double want = std::atof(condition.c_str() + i);
  if (op.empty()) op = "==";
  bool ok = op == "==" ? value == want : op == "!=" ? value != want : op == ">" ? value > want : op == ">=" ? value >= want
            : op == "<" ? value < want : op == "<=" ? value <= want : false;
  if (!ok) why = fmt::format("{} (want {})", value, condition);
  return ok;
}

const nlohmann::json* at_path(const nlohmann::json& j, const std::string& path) {
  const nlohmann::json* cur = &j;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object() || !cur->contains(part)) return nullptr;
    cur = &(*cur)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nullptr;
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class Run {
 public:
  Run(const ScenarioSpec& spec, const RunnerOptions& o, ScenarioResult& r) : spec_(spec), o_(o), r_(r), rng_(o.seed) {}

  void go() {
    fs::create_directories(o_.out_dir);
    start_servers();
    fill();
    if (spec_.mode == "aof") {
      // An offline import: the source writes its AOF (the dataset in an RDB base after a rewrite,
      // the load and the timeline in the incr file), then ferry imports a copy of it.
      rewrite_aof(*master_);  // what the source holds becomes the AOF's base
      run_load_and_timeline();
      copy_aof();
      write_task_file();
      start_ferry();
    } else {
      write_task_file();
      start_ferry();
      if (spec_.mode == "sync") wait_streaming();
      run_load_and_timeline();
    }
    finish_ferry();
    validate();
    check_expectations();
    if (!r_.failures.empty()) keep_logs();
  }

  void fail(std::string why) {
    std::lock_guard lock(fail_mu_);
    r_.failures.push_back(std::move(why));
  }
  void keep_logs_after_error() { keep_logs(); }

 private:
  void start_servers() {
    TopologySpec t;
    if (spec_.source.tls || spec_.target.tls) tls_files_ = make_tls_files();
    t.master = server_options(spec_.source, tls_files_);
    if (spec_.mode == "aof") {
      t.master.config.emplace_back("appendonly", "yes");
      t.master.config.emplace_back("aof-timestamp-enabled", "yes");
    }
    t.replicas = spec_.source.replicas;
    if (spec_.source.cluster_masters > 0) {
      t.cluster_masters = spec_.source.cluster_masters;
      t.replicas = spec_.source.cluster_replicas;
    }
    source_ = std::make_unique<Topology>(t);
    target_options_ = server_options(spec_.target, tls_files_);
    if (spec_.target.cluster_masters > 0) {
      TopologySpec c;
      c.master = target_options_;
      c.cluster_masters = spec_.target.cluster_masters;
      c.replicas = spec_.target.cluster_replicas;
      target_cluster_ = std::make_unique<Topology>(c);
    } else {
      target_ = std::make_unique<RedisServer>(target_options_);
      target_port_ = target_->port();
    }
    master_ = Connection::open(source_->master().endpoint("source"));
    for (const auto& k : spec_.target.keys)
      Connection::open(target_node_for(k).endpoint("target"))->checked({"SET", k, "already on the target"});
    if (spec_.proxy) proxy_ = std::make_unique<FaultProxy>("127.0.0.1", source_->master().port(), FaultProxyOptions{0, o_.seed});
  }

  void fill() {
    if (spec_.dataset.keys > 0) {
      MixedDatasetOptions d;
      d.seed = o_.seed;
      d.dbs = spec_.dataset.dbs;
      d.keys_per_db = std::max<size_t>(1, spec_.dataset.keys / std::max<size_t>(1, d.dbs.size()));
      d.expiring_fraction = spec_.dataset.expiring;
      d.big_encodings = spec_.dataset.big;
      if (source_->is_cluster()) fill_mixed_dataset(*source_target(), d);
      else fill_mixed_dataset(*master_, d);
    }
    if (spec_.dataset.newer_types) fill_newer_types(*master_);
    // Short-lived keys and lists go to DB 0, beside the target's [target] keys; on a cluster each
    // on its slot's master.
    auto source = source_target();
    long long ttl = std::max<long long>(10, spec_.dataset.short_ttl_ms);
    for (size_t i = 0; i < spec_.dataset.short_lived; ++i) {
      const std::string key = fmt::format("short:{}", i);
      source->pipeline_for(0, key).send({"SET", key, "v", "PX", std::to_string(ttl / 10 + static_cast<long long>(rng_() % ttl))});
    }
    for (size_t i = 0; i < spec_.dataset.lists; ++i) {
      Args push{"RPUSH", fmt::format("list:{}", i)};
      for (size_t e = 0; e < spec_.dataset.list_length; ++e) push.push_back(std::to_string(e));
      source->pipeline_for(0, push[1]).send(push);
    }
    source->drain();
  }

  // The source as a write target: one server, or a cluster with each key on its slot's master.
  std::unique_ptr<Target> source_target() { return open_target(dialer_, source_endpoint("load"), PipelineLimits{}); }

  // The source's (first) master now. The topology asks its nodes over connections it keeps, which
  // are not thread-safe: the load, the sampler and the timeline each come through this lock.
  Endpoint source_endpoint(const std::string& role) {
    std::lock_guard lock(topology_mu_);
    return source_->master().endpoint(role);
  }

  // Every master of the source (its one server).
  std::vector<std::unique_ptr<Connection>> source_masters() {
    std::vector<std::unique_ptr<Connection>> out;
    std::lock_guard lock(topology_mu_);
    for (size_t i = 0; i < source_->shard_count(); ++i) out.push_back(Connection::open(source_->master(i).endpoint("source")));
    return out;
  }

  // A copy of the source's appendonly directory, taken while the source appends nothing (active
  // expiry paused: no DELs arrive mid-copy).
  void copy_aof() {
    pause_aof_appends(*master_);
    const std::string from = source_->master().dir() + "/appendonlydir", to = o_.out_dir + "/appendonlydir";
    fs::remove_all(to);
    fs::copy(from, to, fs::copy_options::recursive);
    pause_aof_appends(*master_, false);
  }

  void write_task_file() {
    toml::table task = spec_.task_toml.empty() ? toml::table{} : toml::parse(spec_.task_toml);
    auto sub = [&](const char* name) -> toml::table& {
      if (!task.contains(name)) task.insert(name, toml::table{});
      return *task[name].as_table();
    };
    task.insert_or_assign("mode", spec_.mode);
    if (spec_.mode == "rdb") {
      master_->checked({"SAVE"});
      task.insert_or_assign("rdb", source_->master().dir() + "/dump.rdb");
    } else if (spec_.mode == "aof") {
      task.insert_or_assign("aof", o_.out_dir + "/appendonlydir");
    } else {
      // The proxy carries TLS bytes as they are: the URI names it, the certificate still the server.
      sub("source").insert_or_assign("uri", proxy_ ? fmt::format("{}://127.0.0.1:{}", spec_.source.tls ? "rediss" : "redis",
                                                                 proxy_->port())
                                                   : source_->master().uri());
      if (spec_.source.tls) add_tls_keys(sub("source"));
    }
    sub("target").insert_or_assign("uri", target_node_for("").uri());
    if (spec_.target.tls) add_tls_keys(sub("target"));
    report_path_ = o_.out_dir + "/task-report.json";
    sub("output").insert_or_assign("report", report_path_);
    sub("output").insert_or_assign("progress", "never");
    sub("output").insert_or_assign("log-file", o_.out_dir + "/ferry.log");
    // ferry's /status feeds the timeline's lag and says when the stream has begun.
    if (!metrics_port_) metrics_port_ = free_loopback_port();
    sub("output").insert_or_assign("metrics-listen", fmt::format("127.0.0.1:{}", metrics_port_));
    if (spec_.mode == "sync" && !sub("sync").contains("state"))
      sub("sync").insert_or_assign("state", o_.out_dir + "/ferry.state");
    task_path_ = o_.out_dir + "/task.toml";
    std::ofstream(task_path_) << task << "\n";
  }

  void add_tls_keys(toml::table& side) const {
    side.insert_or_assign("tls-ca", tls_files_.ca);
    side.insert_or_assign("tls-cert", tls_files_.client.cert);
    side.insert_or_assign("tls-key", tls_files_.client.key);
  }

  // A target node by port (a cluster's masters), as a client of it connects.
  Endpoint target_at(int port) const {
    return server_endpoint(target_options_, port, "target");
  }

  void start_ferry() {
    ++ferry_runs_;
    ferry_ = std::make_unique<ChildProcess>(std::vector<std::string>{o_.ferry_binary, "migrate", "--config", task_path_},
                                            fmt::format("{}/ferry-{}.out", o_.out_dir, ferry_runs_),
                                            fmt::format("{}/ferry-{}.err", o_.out_dir, ferry_runs_));
  }

  // Until ferry says every shard streams (its snapshot applied).
  void wait_streaming() {
    auto until = Clock::now() + std::chrono::seconds(60);
    auto streaming = [&] {
      auto s = ferry_status();
      return s.is_object() && s["task"].value("phase", "") == "stream";
    };
    while (Clock::now() < until && ferry_->running() && !streaming())
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  // ferry's /status (its --metrics-listen), or null while it does not answer.
  nlohmann::json ferry_status() const {
    try {
      return nlohmann::json::parse(http_get(fmt::format("http://127.0.0.1:{}/status", metrics_port_), 2).body);
    } catch (const std::exception&) {
      return nullptr;
    }
  }

  // A cluster source: every master's stream up to `want` (its offset) is on the target, as the
  // state file's entry for its replication id says.
  bool shards_caught_up(const std::vector<std::pair<std::unique_ptr<Connection>, long long>>& want) {
    auto state = read_json_file(o_.out_dir + "/ferry.state");
    if (!state.is_object() || !state.contains("shards")) return false;
    for (const auto& [conn, offset] : want) {
      auto info = conn->info("replication");
      bool held = false;
      for (const auto& e : state["shards"]) {
        const std::string replid = e.value("replid", "");
        if ((replid == info["master_replid"] || replid == info["master_replid2"]) && e.value("offset", 0LL) >= offset) held = true;
      }
      if (!held) return false;
    }
    return true;
  }

  // The target's server, or the master of a cluster target that holds `key` now.
  RedisServer& target_node_for(const std::string& key) {
    if (!target_cluster_) return *target_;
    std::lock_guard lock(topology_mu_);
    return target_cluster_->master(target_cluster_->shard_of_key(key));
  }
  // Every master of the target (its one server), as ports: read by the sampler while the timeline
  // may fail a shard over.
  std::vector<int> target_ports() {
    if (!target_cluster_) return {target_port_};
    std::lock_guard lock(topology_mu_);
    std::vector<int> out;
    for (size_t i = 0; i < target_cluster_->shard_count(); ++i) out.push_back(target_cluster_->master(i).port());
    return out;
  }

  void sample_loop() {
    std::unique_ptr<Connection> m;
    long long last_total = -1;
    auto last = Clock::now();
    while (!sampling_done_) {
      try {
        if (!m) m = Connection::open(source_endpoint("source"));
        long long total = info_number(m->info("stats"), "total_commands_processed");
        TimelineSample s;
        s.t = std::chrono::duration<double>(Clock::now() - load_started_).count();
        double dt = since(last);
        s.ops_per_sec = last_total >= 0 && dt > 0 ? (total - last_total) / dt : 0;
        last_total = total;
        last = Clock::now();
        auto status = ferry_status();
        if (status.is_object() && status["task"].value("phase", "") == "stream") {
          const auto& totals = status["totals"];
          s.lag_bytes = totals["lag_bytes"].is_null() ? -1 : totals["lag_bytes"].get<long long>();
          s.lag_ms = totals["lag_ms"].is_null() ? -1 : totals["lag_ms"].get<double>();
        }
        s.target_memory = 0;
        for (int port : target_ports()) {  // a cluster: every master's
          auto t = target_sampling_[port] ? std::move(target_sampling_[port]) : Connection::open(target_at(port));
          s.target_memory += info_number(t->info("memory"), "used_memory");
          target_sampling_[port] = std::move(t);
        }
        std::lock_guard lock(samples_mu_);
        r_.samples.push_back(s);
      } catch (const std::exception&) {
        target_sampling_.clear();  // the target restarts: reconnect on the next tick
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  void run_load_and_timeline() {
    load_started_ = Clock::now();
    std::thread sampler([this] { sample_loop(); });
    std::atomic<bool> stop_load{false};
    LoadStats stats;
    std::thread load;
    if (spec_.workload.enabled()) {
      load = std::thread([&] {
        try {
          LoadOptions lo;
          lo.seed = o_.seed;
          lo.rate = spec_.workload.rate;
          lo.duration_s = spec_.workload.duration;
          lo.dbs = spec_.workload.dbs;
          lo.keyspace = spec_.workload.keyspace;
          lo.hash_tags = spec_.workload.hash_tags.value_or(target_cluster_ || source_->is_cluster() ? 64 : 0);
          lo.tag_per_command = spec_.workload.tag_per_command;
          if (!spec_.workload.mix.empty()) lo.weights = spec_.workload.mix;
          lo.op_log = o_.out_dir + "/ops.jsonl";
          LoadGenerator generator(lo);
          if (source_->is_cluster()) {
            if (lo.dbs != std::vector<int>{0}) throw FerryError(ExitCode::Usage, "a cluster source has DB 0 only: [workload] dbs = [0]");
            stats = generator.run(*source_target(), &stop_load);
          } else {
            auto conn = Connection::open(source_endpoint("load"));
            stats = generator.run(*conn, &stop_load);
          }
        } catch (const std::exception& e) {
          fail(fmt::format("the write load stopped: {}", e.what()));
        }
      });
    }
    for (const auto& ev : spec_.timeline) {
      auto when = load_started_ + std::chrono::milliseconds(ev.at_ms);
      while (Clock::now() < when) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      try {
        apply(ev);
      } catch (const std::exception& e) {
        fail(fmt::format("timeline event at {} ms ({}{}) failed: {}", ev.at_ms, ev.fault, ev.action, e.what()));
      }
    }
    if (load.joinable()) load.join();
    r_.load = {{"commands", stats.commands}, {"error_replies", stats.errors}, {"seconds", stats.seconds}};
    sampling_done_ = true;
    sampler.join();
    r_.timeline = spec_.timeline;
  }

  void apply(const TimelineEvent& ev) {
    if (!ev.fault.empty()) {
      if (!proxy_) throw FerryError(ExitCode::Usage, "a fault needs the proxy");
      proxy_->add(ev.fault);
    } else if (ev.action == "heal") {
      if (proxy_) proxy_->heal();
    } else if (ev.action == "restart-target") {
      target_.reset();
      RedisServerOptions again = target_options_;
      again.port = target_port_;
      target_ = std::make_unique<RedisServer>(again);
    } else if (ev.action == "kill-ferry" || ev.action == "restart-ferry") {
      ferry_->signal(SIGKILL);
      ferry_->wait(10);
      if (ev.action == "restart-ferry") {
        start_ferry();
        if (spec_.mode == "sync") wait_streaming();
      }
    } else if (ev.action == "target-failover" || ev.action == "target-reshard" || ev.action == "target-shard-maxmemory") {
      apply_to_cluster(ev, *target_cluster_, "target");
    } else if (ev.action == "source-failover" || ev.action == "source-reshard") {
      apply_to_cluster(ev, *source_, "source");
    } else if (ev.action == "source-replica-link-cut") {
      // "SHARD MS": the shard's first replica loses its master link again and again for MS ms
      // (CLIENT KILL TYPE master every 100 ms): it serves what it has, then resyncs partially.
      std::istringstream in(ev.value);
      size_t shard = 0;
      long long ms = 3000;
      in >> shard >> ms;
      std::unique_ptr<Connection> replica;
      {
        std::lock_guard lock(topology_mu_);
        if (shard >= source_->shard_count() || source_->replica_count(shard) == 0)
          throw FerryError(ExitCode::Usage, fmt::format("source-replica-link-cut: shard {} has no replica", shard));
        replica = Connection::open(source_->replica(0, shard).endpoint("source"));
      }
      log::info("scenario: cutting the master link of source shard {}'s replica for {} ms", shard, ms);
      auto until = Clock::now() + std::chrono::milliseconds(ms);
      while (Clock::now() < until) {
        replica->command({"CLIENT", "KILL", "TYPE", "master"});
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    } else if (ev.action == "target-maxmemory") {
      Connection::open(target_->endpoint("target"))->checked({"CONFIG", "SET", "maxmemory", ev.value});
    } else if (ev.action == "target-command") {
      Args words;
      std::istringstream in(ev.value);
      for (std::string w; in >> w;) words.push_back(w);
      if (!words.empty()) Connection::open(target_node_for(words.size() > 1 ? words[1] : "").endpoint("target"))->command(words);
    } else if (ev.action == "delete") {
      for (auto& conn : source_masters()) {
        std::string cursor = "0";
        do {
          Reply r = conn->checked({"SCAN", cursor, "MATCH", ev.value, "COUNT", "1000"});
          cursor = r.elements[0].str;
          for (const auto& k : r.elements[1].elements) conn->checked({"DEL", k.str});
        } while (cursor != "0");
      }
    }
  }

  // target-failover "1" | "key NAME"; target-reshard "FROM TO SLOTS"; target-shard-maxmemory
  // "SHARD BYTES" | "key NAME BYTES"; source-failover and source-reshard likewise on the source.
  void apply_to_cluster(const TimelineEvent& ev, Topology& cluster, const char* side) {
    std::vector<std::string> words;
    std::istringstream in(ev.value);
    for (std::string w; in >> w;) words.push_back(w);
    std::lock_guard lock(topology_mu_);
    auto shard = [&](size_t& at) -> size_t {
      if (at < words.size() && words[at] == "key" && at + 1 < words.size()) {
        at += 2;
        return cluster.shard_of_key(words[at - 1]);
      }
      if (at >= words.size()) throw FerryError(ExitCode::Usage, fmt::format("{}: '{}' lacks a shard", ev.action, ev.value));
      const size_t index = static_cast<size_t>(std::atoi(words[at++].c_str()));
      if (index >= cluster.shard_count())
        throw FerryError(ExitCode::Usage, fmt::format("{}: shard {} does not exist ({} shards)", ev.action, index,
                                                      cluster.shard_count()));
      return index;
    };
    size_t at = 0;
    const std::string kind = ev.action.substr(ev.action.find('-') + 1);
    if (kind == "failover") {
      const size_t s = words.empty() ? 0 : shard(at);
      log::info("scenario: failing shard {} of the {} over", s, side);
      cluster.failover(s);
    } else if (kind == "reshard") {
      const size_t from = words.empty() ? 0 : shard(at);
      const size_t to = words.size() > at ? shard(at) : (from + 1) % cluster.shard_count();
      const int slots = words.size() > at ? std::atoi(words[at].c_str()) : 500;
      log::info("scenario: moving {} slots of the {} from shard {} to shard {}", slots, side, from, to);
      cluster.reshard(from, to, slots);
    } else {
      const size_t s = shard(at);
      if (at >= words.size()) throw FerryError(ExitCode::Usage, fmt::format("{}: '{}' lacks the bytes", ev.action, ev.value));
      cluster.set_shard_maxmemory(s, words[at], spec_.target.policy.empty() ? "noeviction" : spec_.target.policy);
    }
  }

  void finish_ferry() {
    double budget = std::max(10.0, spec_.expect.time_limit - since(started_));
    if (spec_.mode == "sync") {
      if (proxy_) proxy_->heal();  // the timeline is over: let ferry catch up
      auto until = Clock::now() + std::chrono::duration<double>(std::min(60.0, budget));
      if (source_->is_cluster()) {
        std::vector<std::pair<std::unique_ptr<Connection>, long long>> want;
        for (auto& conn : source_masters()) {
          touch_all(*conn);
          const long long offset = info_number(conn->info("replication"), "master_repl_offset");
          want.emplace_back(std::move(conn), offset);
        }
        while (ferry_->running() && Clock::now() < until && !shards_caught_up(want))
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (ferry_->running() && !shards_caught_up(want))
          fail(fmt::format("ferry did not catch up with every shard of the source within {:.0f} s (its state file: {})",
                           std::min(60.0, budget), read_json_file(o_.out_dir + "/ferry.state").dump()));
      } else {
        touch_all(*master_);
        long long want = info_number(master_->info("replication"), "master_repl_offset");
        while (ferry_->running() && Clock::now() < until && replica_offset(*master_) < want)
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (ferry_->running() && replica_offset(*master_) < want)
          fail(fmt::format("ferry did not catch up with the source within {:.0f} s (acknowledged {} of {})",
                           std::min(60.0, budget), replica_offset(*master_), want));
      }
      ferry_->signal(SIGTERM);
    }
    auto code = ferry_->wait(spec_.mode == "sync" ? 30 : budget);
    if (!code) {
      fail("ferry did not exit in time: killed");
      ferry_->signal(SIGKILL);
      code = ferry_->wait(10);
    }
    r_.ferry_exit = code.value_or(-1);
    r_.task_report = read_json_file(report_path_);
  }

  void validate() {
    if (!spec_.validate.enabled) return;
    for (auto& conn : source_masters()) touch_all(*conn);
    VerifyOptions v;
    if (fs::exists(report_path_)) v.task = TaskContext::from_report_file(report_path_);
    v.dbs = v.task.dbs;
    v.db_map = v.task.db_map;
    v.compare.level = spec_.validate.compare == "outline" ? CompareLevel::Outline
                      : spec_.validate.compare == "length" ? CompareLevel::Length
                                                            : CompareLevel::Full;
    v.rounds = spec_.validate.rounds;
    v.interval_seconds = spec_.validate.interval;
    v.work_dir = o_.out_dir;
    int sv = source_->master().version(), tv = target_node_for("").version();
    v.compare.ttl_tolerance_ms = spec_.validate.ttl_tolerance_ms >= 0 ? spec_.validate.ttl_tolerance_ms
                                 : (sv && sv < 70000) || (tv && tv < 70000) ? 1000 : 0;
    VerifyReport report = run_verify(source_->master().endpoint("source"), target_node_for("").endpoint("target"), v);
    r_.verify_report = report.to_json();
    std::ofstream(o_.out_dir + "/verify.json") << r_.verify_report.dump(2) << "\n";
  }

  void check_expectations() {
    const ExpectSpec& x = spec_.expect;
    if (r_.ferry_exit != x.exit_code)
      fail(fmt::format("ferry migrate exited {} (expected {}); its stderr ends: {}", r_.ferry_exit, x.exit_code,
                       log::printable(last_stderr(), 400)));
    if (!x.error_contains.empty() && last_stderr().find(x.error_contains) == std::string::npos)
      fail(fmt::format("ferry's stderr does not say '{}'", x.error_contains));
    for (const auto& [path, condition] : x.report) {
      const nlohmann::json* v = r_.task_report.is_null() ? nullptr : at_path(r_.task_report, path);
      std::string why;
      if (!v) fail(fmt::format("the task report has no '{}'", path));
      else if (v->is_array() ? !holds(static_cast<double>(v->size()), condition, why)
               : v->is_number() ? !holds(v->get<double>(), condition, why)
               : v->is_boolean() ? !holds(v->get<bool>() ? 1 : 0, condition, why) : true)
        fail(fmt::format("task report {}: {}", path, why.empty() ? "not a number" : why));
    }
    if (!r_.verify_report.is_null()) {
      const auto& causes = r_.verify_report["summary"]["by_cause"];
      auto count = [&](const std::string& c) { return causes.contains(c) ? causes[c].get<long long>() : 0LL; };
      for (const auto& c : x.must)
        if (count(c) == 0) fail(fmt::format("expected divergences caused by '{}', found none", c));
      for (const auto& c : x.must_not)
        if (count(c) > 0) fail(fmt::format("{} divergence(s) caused by '{}', which must not appear", count(c), c));
      for (const auto& [cause, n] : causes.items()) {
        if (cause == "unexplained" || n.get<long long>() == 0) continue;
        bool listed = std::find(x.must.begin(), x.must.end(), cause) != x.must.end() ||
                      std::find(x.may.begin(), x.may.end(), cause) != x.may.end();
        bool forbidden = std::find(x.must_not.begin(), x.must_not.end(), cause) != x.must_not.end();
        if (!listed && !forbidden) fail(fmt::format("{} unexpected divergence(s) caused by '{}'", n.get<long long>(), cause));
      }
      if (count("unexplained") > x.unexplained)
        fail(fmt::format("{} unexplained divergence(s) (at most {} expected)", count("unexplained"), x.unexplained));
    }
    for (int port : x.absent_on_target.empty() ? std::vector<int>{} : target_ports()) {
      auto t = Connection::open(target_at(port));
      for (const auto& [name, value] : t->info("keyspace")) {
        if (name.rfind("db", 0) != 0) continue;
        t->select(std::atoi(name.c_str() + 2));
        for (const auto& pattern : x.absent_on_target) {
          std::string cursor = "0";
          do {
            Reply r = t->checked({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
            cursor = r.elements[0].str;
            if (!r.elements[1].elements.empty()) {
              fail(fmt::format("the target holds '{}' ({}), which must not reach it", log::printable(r.elements[1].elements[0].str),
                               pattern));
              cursor = "0";
            }
          } while (cursor != "0");
        }
      }
    }
    if (since(started_) > x.time_limit) fail(fmt::format("took {:.0f} s, over the limit of {:.0f} s", since(started_), x.time_limit));
  }

  std::string last_stderr() const { return read_text(fmt::format("{}/ferry-{}.err", o_.out_dir, ferry_runs_)); }

  void keep_logs() {
    fs::create_directories(o_.out_dir + "/servers");
    std::error_code ec;
    if (source_) {
      int i = 0;
      for (auto* s : source_->servers())
        fs::copy_file(s->log_path(), fmt::format("{}/servers/source-{}.log", o_.out_dir, i++), fs::copy_options::overwrite_existing, ec);
    }
    if (target_) fs::copy_file(target_->log_path(), o_.out_dir + "/servers/target.log", fs::copy_options::overwrite_existing, ec);
    if (target_cluster_) {
      int i = 0;
      for (auto* s : target_cluster_->servers())
        fs::copy_file(s->log_path(), fmt::format("{}/servers/target-{}.log", o_.out_dir, i++), fs::copy_options::overwrite_existing, ec);
    }
  }

  const ScenarioSpec& spec_;
  const RunnerOptions& o_;
  ScenarioResult& r_;
  std::mt19937_64 rng_;
  Clock::time_point started_ = Clock::now(), load_started_ = Clock::now();
  std::unique_ptr<Topology> source_;
  RedisServerOptions target_options_;
  TlsFiles tls_files_;  // [source] or [target] tls: made for the run
  std::unique_ptr<RedisServer> target_;   // one server, or
  std::unique_ptr<Topology> target_cluster_;  // a cluster ([target] cluster)
  const Dialer dialer_;      // outlives the targets it makes (source_target)
  std::mutex topology_mu_;  // the timeline changes the cluster while the sampler reads it
  std::map<int, std::unique_ptr<Connection>> target_sampling_;
  int target_port_ = 0;
  int metrics_port_ = 0;  // ferry's --metrics-listen
  std::unique_ptr<Connection> master_;
  std::unique_ptr<FaultProxy> proxy_;
  std::unique_ptr<ChildProcess> ferry_;
  int ferry_runs_ = 0;
  std::string task_path_, report_path_;
  std::atomic<bool> sampling_done_{false};
  std::mutex samples_mu_, fail_mu_;
};

}  // namespace

ScenarioResult run_scenario(const ScenarioSpec& spec, const RunnerOptions& options) {
  ScenarioResult r;
  r.name = spec.name;
  r.file = spec.file;
  r.description = spec.description;
  r.seed = options.seed;
  r.out_dir = options.out_dir;
  r.repro = fmt::format("{} scenario run {} --seed {}", options.ferry_binary, spec.file, options.seed);
  r.ferry_version = options.ferry_version;
  auto started = Clock::now();
  Run run(spec, options, r);
  try {
    run.go();
  } catch (const SkipScenario& e) {
    r.skipped = e.what();
  } catch (const std::exception& e) {
    run.fail(fmt::format("the scenario could not run: {}", e.what()));
    try {
      run.keep_logs_after_error();
    } catch (const std::exception&) {
    }
  }
  r.seconds = since(started);
  r.passed = r.failures.empty();
  return r;
}

}  // namespace ferry::sim
