// The metrics endpoint, `ferry status`, the periodic log line and the alerts, against real servers,
// Debian's promtool and Prometheus (each skipped with a message when its package is missing).
#include "support.h"
#include "cluster/cluster_support.h"

#include "process/child_process.h"
#include "task/metrics_http.h"
#include "topology/topology.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

using namespace ferry;
using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/ferry-monitor-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

std::string url_of(int port, const std::string& path) { return fmt::format("http://127.0.0.1:{}{}", port, path); }

// The endpoint's answer, or null while nothing answers.
nlohmann::json status_of(int port) {
  try {
    return nlohmann::json::parse(http_get(url_of(port, "/status"), 2).body);
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::string metrics_of(int port) { return http_get(url_of(port, "/metrics"), 5).body; }

// Waits until `ok(status)` holds (at most `seconds`, and while `ferry` runs); fails the test with the
// last status, or ferry's output when it ended.
nlohmann::json wait_status(BackgroundFerry& ferry, int port, double seconds,
                           const std::function<bool(const nlohmann::json&)>& ok, const std::string& what) {
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  nlohmann::json s;
  while (Clock::now() < until) {
    s = status_of(port);
    if (s.is_object() && ok(s)) return s;
    if (!ferry.running()) {
      auto r = ferry.wait(1);
      FAIL("ferry ended (exit " << r.exit_code << ") before " << what << ":\n" << r.out << r.err);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL("waited " << seconds << " s for " << what << "; last /status: " << s.dump(2));
  return s;
}

// The value of one sample of the Prometheus text (`series` as written, labels included), or nullopt.
std::optional<double> sample(const std::string& metrics, const std::string& series) {
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return std::nullopt;
}

// Runs a shell command, its stdout and stderr together.
std::pair<int, std::string> shell(const std::string& command) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

bool installed(const std::string& program) { return fs::exists("/usr/bin/" + program); }

// The events an --alert-exec command recorded: one line each, "NAME {json}".
std::vector<std::pair<std::string, nlohmann::json>> events_in(const std::string& path) {
  std::vector<std::pair<std::string, nlohmann::json>> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto space = line.find(' ');
    if (space == std::string::npos) continue;
    out.emplace_back(line.substr(0, space), nlohmann::json::parse(line.substr(space + 1)));
  }
  return out;
}
std::string recorder(const std::string& path) {
  return fmt::format("printf '%s ' \"$FERRY_ALERT_EVENT\" >> {0}; cat >> {0}", path);
}
bool has_event(const std::string& path, const std::string& name) {
  for (const auto& [n, j] : events_in(path))
    if (n == name) return true;
  return false;
}
void wait_event(const std::string& path, const std::string& name, double seconds) {
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < until && !has_event(path, name)) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  INFO("events: " << read_file(path));
  REQUIRE(has_event(path, name));
}

}  // namespace

TEST_CASE("sync: /metrics and /status count what the servers hold; promtool accepts it, Prometheus scrapes it",
          "[monitor][metrics]") {
  TempDir dir;
  sim::RedisServerOptions so;
  so.requirepass = "monitor-secret-pw";
  sim::RedisServer source(so);
  sim::RedisServer target;
  auto src = connect(source);
  for (int i = 0; i < 500; ++i) src->checked({"SET", fmt::format("k:{}", i), "v"});
  const int port = sim::free_loopback_port();
  BackgroundFerry ferry({"migrate", "--mode", "sync", "--source", source.uri("", "monitor-secret-pw"), "--target",
                         target.uri(), "--metrics-listen", std::to_string(port), "--log-status-every", "1"});
  wait_status(
      ferry, port, 60, [](const auto& s) { return s["task"]["phase"] == "stream"; }, "the stream");

  for (int i = 0; i < 100; ++i) src->checked({"SET", fmt::format("s:{}", i), "x"});
  for (int i = 0; i < 50; ++i) src->checked({"HSET", "h", fmt::format("f{}", i), "v"});
  for (int i = 0; i < 10; ++i) src->checked({"DEL", fmt::format("k:{}", i)});
  auto equal = wait_equal(source, target, 30);
  INFO(equal.summary());
  CHECK(equal.equal());
  auto s = wait_status(
      ferry, port, 30, [](const auto& s) { return s["totals"]["commands"] == 160 && s["totals"]["lag_bytes"] == 0; },
      "160 commands applied and no lag");
  CHECK(s["task"]["mode"] == "sync");
  CHECK(s["task"]["state"] == "running");
  CHECK(s["totals"]["keys_copied"] == 500);
  CHECK(s["shards"].size() == 1);
  CHECK(s["shards"][0]["applied_offset"].get<long long>() > 0);
  CHECK(s["totals"]["lag_ms"].get<long long>() < 5000);

  const std::string m = metrics_of(port);
  INFO(m);
  CHECK(sample(m, "ferry_up") == 1);
  CHECK(sample(m, "ferry_phase{phase=\"stream\"}") == 1);
  CHECK(sample(m, "ferry_phase{phase=\"snapshot\"}") == 0);
  CHECK(sample(m, "ferry_keys_copied_total") == 500);
  CHECK(sample(m, "ferry_stream_commands_total{command=\"SET\"}") == 100);
  CHECK(sample(m, "ferry_stream_commands_total{command=\"HSET\"}") == 50);
  CHECK(sample(m, "ferry_stream_commands_total{command=\"DEL\"}") == 10);
  CHECK(sample(m, "ferry_stream_errors_total") == 0);
  CHECK(sample(m, "ferry_lag_bytes{shard=\"0\"}") == 0);
  CHECK(sample(m, "ferry_lag_seconds{shard=\"0\"}").has_value());
  CHECK(sample(m, "ferry_partial_resyncs_total") == 0);
  CHECK(sample(m, "ferry_full_resyncs_total") == 0);
  CHECK(sample(m, "ferry_retries_total") == 0);
  CHECK(sample(m, "ferry_target_oom_total") == 0);
  CHECK(m.find(fmt::format("ferry_task_info{{mode=\"sync\"")) != std::string::npos);
  CHECK(m.find("monitor-secret-pw") == std::string::npos);
  CHECK(status_of(port).dump().find("monitor-secret-pw") == std::string::npos);

  if (installed("promtool")) {
    std::ofstream(dir / "metrics.txt") << m;
    auto [code, out] = shell("promtool check metrics < " + dir / "metrics.txt");
    INFO(out);
    CHECK(code == 0);
    CHECK(out.empty());  // no lint problem either
  } else {
    WARN("promtool not installed (Debian package prometheus): the metrics' format is not checked by it");
  }

  // `ferry status` reads the same endpoint, as a person reads it.
  auto st = run_ferry({"status", "--metrics", url_of(port, "")});
  INFO(st.err);
  CHECK(st.exit_code == 0);
  CHECK(st.out.find("phase stream") != std::string::npos);
  CHECK(st.out.find("500 copied") != std::string::npos);
  CHECK(st.out.find("160 commands applied") != std::string::npos);
  CHECK(st.out.find("lag ") != std::string::npos);
  auto gone = run_ferry({"status", "--metrics", url_of(sim::free_loopback_port(), "")});
  CHECK(gone.exit_code == 4);
  CHECK(gone.err.find("cannot read http://127.0.0.1:") != std::string::npos);

  if (installed("prometheus")) {
    const int prom_port = sim::free_loopback_port();
    std::ofstream(dir / "prometheus.yml") << fmt::format(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ferry\n    static_configs:\n      - targets: "
        "['127.0.0.1:{}']\n",
        port);
    sim::ChildProcess prometheus(
        {"/usr/bin/prometheus", "--config.file=" + dir / "prometheus.yml", "--storage.tsdb.path=" + dir / "tsdb",
         fmt::format("--web.listen-address=127.0.0.1:{}", prom_port)},
        dir / "prometheus.out", dir / "prometheus.err");
    auto query = [&](const std::string& q) {
      try {
        auto r = nlohmann::json::parse(http_get(url_of(prom_port, "/api/v1/query?query=" + q), 2).body);
        const auto& result = r["data"]["result"];
        return result.empty() ? std::string() : result[0]["value"][1].get<std::string>();
      } catch (const std::exception&) {
        return std::string();
      }
    };
    const auto until = Clock::now() + std::chrono::seconds(60);
    std::string keys, sets;
    while (Clock::now() < until && (keys != "500" || sets != "100")) {
      keys = query("ferry_keys_copied_total");
      sets = query("ferry_stream_commands_total%7Bcommand%3D%22SET%22%7D");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    INFO(read_file(dir / "prometheus.err").substr(0, 4000));
    CHECK(keys == "500");
    CHECK(sets == "100");
    CHECK(query("up%7Bjob%3D%22ferry%22%7D") == "1");
  } else {
    WARN("prometheus not installed (Debian package prometheus): no real scrape");
  }

  auto r = ferry.stop();
  CHECK(r.exit_code == 0);
  // The log said where the endpoint is and, every second here, the stream's rate and lag.
  CHECK(r.err.find(fmt::format("metrics: http://127.0.0.1:{}/metrics", port)) != std::string::npos);
  CHECK(std::regex_search(
      r.err,
      std::regex(
          R"(stream: \d+ commands applied, \d+/s over the last \d+ s; lag (< 50 ms|\d+ ms), \d+ bytes behind)")));
  CHECK(r.err.find("monitor-secret-pw") == std::string::npos);
}

TEST_CASE("alerts: a target that stops answering raises lag-high, then lag-resolved; the end raises task-finished",
          "[monitor][alerts]") {
  TempDir dir;
  sim::RedisServer source;
  sim::RedisServer target;
  auto src = connect(source);
  const int port = sim::free_loopback_port();
  const std::string events = dir / "events";
  BackgroundFerry ferry({"migrate", "--mode", "sync", "--source", source.uri(), "--target", target.uri(),
                         "--metrics-listen", std::to_string(port), "--alert-lag-ms", "500", "--alert-for", "1",
                         "--alert-exec", recorder(events)});
  wait_status(
      ferry, port, 60, [](const auto& s) { return s["task"]["phase"] == "stream"; }, "the stream");

  // Writes keep coming while the target sleeps (DEBUG SLEEP blocks it): ferry's stream stalls.
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    auto w = connect(source);
    for (int i = 0; writing; ++i) {
      w->checked({"SET", fmt::format("w:{}", i % 1000), std::to_string(i)});
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  std::thread sleeper([&] {
    auto t = connect(target);
    t->checked({"DEBUG", "SLEEP", "6"});
  });
  wait_event(events, "lag-high", 30);
  auto high = wait_status(
      ferry, port, 10, [](const auto& s) { return s["alerts"]["lag_high"] == true; }, "lag_high in /status");
  CHECK(high["totals"]["lag_ms"].get<long long>() > 500);
  CHECK(sample(metrics_of(port), "ferry_alert_lag_high") == 1);
  sleeper.join();
  wait_event(events, "lag-resolved", 30);
  writing = false;
  writer.join();
  auto equal = wait_equal(source, target, 30);
  INFO(equal.summary());
  CHECK(equal.equal());
  auto r = ferry.stop();
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("alert lag-high") != std::string::npos);

  auto got = events_in(events);
  std::vector<std::string> names;
  for (const auto& [n, j] : got) names.push_back(n);
  CHECK(names == std::vector<std::string>{"lag-high", "lag-resolved", "task-finished"});
  REQUIRE(got.size() == 3);
  CHECK(got[0].second["event"] == "lag-high");
  CHECK(got[0].second["lag_ms"].get<long long>() > 500);
  CHECK(got[0].second["threshold_ms"] == 500);
  CHECK(got[0].second["mode"] == "sync");
  CHECK(got[0].second["shard"] == "0");
  CHECK(got[1].second["lag_ms"].get<long long>() <= 500);
  CHECK(got[2].second["exit_code"] == 0);
  CHECK(got[2].second["source"].get<std::string>().find("127.0.0.1") != std::string::npos);
}

TEST_CASE("task-failed carries the reason; a slow alert command is killed; a bad --metrics-listen is a usage error",
          "[monitor][alerts]") {
  TempDir dir;
  sim::RedisServer target;
  const std::string events = dir / "events";
  // Nothing listens at the source: the task fails (exit 4), and the alert says why.
  const int nobody = sim::free_loopback_port();
  auto r = run_ferry({"migrate", "--source", fmt::format("redis://127.0.0.1:{}", nobody), "--target", target.uri(),
                      "--alert-exec", recorder(events)});
  CHECK(r.exit_code == 4);
  auto got = events_in(events);
  REQUIRE(got.size() == 1);
  CHECK(got[0].first == "task-failed");
  CHECK(got[0].second["exit_code"] == 4);
  CHECK(got[0].second["reason"].get<std::string>().find(std::to_string(nobody)) != std::string::npos);

  // An alert command that would take 30 s is killed at --alert-timeout: the task ends anyway.
  sim::RedisServer source;
  connect(source)->checked({"SET", "k", "v"});
  sim::RedisServer target2;
  auto slow = run_ferry({"migrate", "--source", source.uri(), "--target", target2.uri(), "--alert-exec", "sleep 30",
                         "--alert-timeout", "1"});
  CHECK(slow.exit_code == 0);
  CHECK(slow.seconds < 20);
  CHECK(slow.err.find("alert task-finished: the alert command ran longer than 1 s (--alert-timeout) and was killed") !=
        std::string::npos);
  // A command that fails is logged, and does not change the task's outcome.
  sim::RedisServer target3;
  auto failing = run_ferry({"migrate", "--source", source.uri(), "--target", target3.uri(), "--alert-exec", "exit 7"});
  CHECK(failing.exit_code == 0);
  CHECK(failing.err.find("alert task-finished: the alert command exited with 7") != std::string::npos);

  auto bad =
      run_ferry({"migrate", "--source", source.uri(), "--target", target.uri(), "--metrics-listen", "127.0.0.1:http"});
  CHECK(bad.exit_code == 3);
  CHECK(bad.err.find("metrics-listen") != std::string::npos);
  // A port in use: exit 3 naming it, before anything is written.
  auto taken = run_ferry({"migrate", "--source", source.uri(), "--target", target.uri(), "--metrics-listen",
                          std::to_string(source.port())});
  CHECK(taken.exit_code == 3);
  CHECK(taken.err.find(fmt::format("cannot listen on 127.0.0.1:{}", source.port())) != std::string::npos);
  CHECK(connect(target)->checked({"DBSIZE"}).integer == 0);
}

TEST_CASE("every mode serves its phase and progress: scan, rdb, aof, snapshot; the log says how far every second",
          "[monitor][modes]") {
  TempDir dir;
  sim::RedisServerOptions aof_on;
  aof_on.config = {{"appendonly", "yes"}};
  sim::RedisServer source(aof_on);
  auto src = connect(source);
  // Hashes: each key goes out as its own RESTORE, acknowledged as it lands (strings are batched).
  for (int i = 0; i < 3000; ++i) src->checked({"HSET", fmt::format("k:{}", i), "f", std::string(100, 'v')});
  src->checked({"SAVE"});
  sim::rewrite_aof(*src);
  sim::pause_aof_appends(*src);
  fs::copy(source.dir() + "/dump.rdb", dir / "dump.rdb");
  fs::copy(source.dir() + "/appendonlydir", dir / "appendonlydir", fs::copy_options::recursive);

  struct Mode {
    std::string name;
    std::vector<std::string> input;
  };
  const std::vector<Mode> modes{{"scan", {"--source", source.uri(), "--scan-count", "100"}},  // progress per SCAN batch
                                {"rdb", {"--rdb", dir / "dump.rdb"}},
                                {"aof", {"--aof", dir / "appendonlydir"}},
                                {"snapshot", {"--source", source.uri()}}};
  for (const auto& mode : modes) {
    DYNAMIC_SECTION(mode.name) {
      sim::RedisServer target;
      const int port = sim::free_loopback_port();
      std::vector<std::string> args{"migrate",
                                    "--mode",
                                    mode.name,
                                    "--target",
                                    target.uri(),
                                    "--metrics-listen",
                                    std::to_string(port),
                                    "--max-ops",
                                    "1000",
                                    "--pipeline-commands",
                                    "100",
                                    "--log-status-every",
                                    "1"};
      args.insert(args.end(), mode.input.begin(), mode.input.end());
      BackgroundFerry ferry(args);
      // Throttled to 1000 keys/s, acknowledged per 100: the copy is seen half done.
      auto s = wait_status(
          ferry, port, 30,
          [&](const auto& s) {
            return s["task"]["phase"] == mode.name && s["shards"][0]["progress"]["done"].template get<uint64_t>() > 0;
          },
          "the copy under way");
      CHECK(s["task"]["mode"] == mode.name);
      const std::string m = metrics_of(port);
      INFO(m);
      CHECK(sample(m, fmt::format("ferry_phase{{phase=\"{}\"}}", mode.name)) == 1);
      auto ratio = sample(m, "ferry_copy_progress_ratio{shard=\"0\"}");
      REQUIRE(ratio.has_value());
      CHECK(*ratio > 0);
      CHECK(*ratio < 1);
      auto done = ferry.wait(60);
      CHECK(done.exit_code == 0);
      CHECK(connect(target)->checked({"DBSIZE"}).integer == 3000);
      CHECK(std::regex_search(done.err,
                              std::regex(mode.name + R"(: \d+ of \d+ (keys|bytes) \(\d+\.\d%\), \d+ keys written)")));
    }
  }
}

TEST_CASE("a cluster source: one series per shard, each streaming with its own lag", "[monitor][cluster]") {
  sim::Topology source(cluster_spec(3, 0));
  sim::RedisServer target;
  std::vector<std::unique_ptr<Connection>> masters;
  for (size_t i = 0; i < 3; ++i) masters.push_back(connect(source.master(i)));
  auto set = [&](const std::string& key) { masters[source.shard_of_key(key)]->checked({"SET", key, "v"}); };
  for (int i = 0; i < 300; ++i) set(fmt::format("c:{}", i));
  const int port = sim::free_loopback_port();
  BackgroundFerry ferry({"migrate", "--mode", "sync", "--source", uri(source.master(0)), "--target", target.uri(),
                         "--metrics-listen", std::to_string(port)});
  auto s = wait_status(
      ferry, port, 90, [](const auto& s) { return s["task"]["phase"] == "stream"; }, "every shard streaming");
  REQUIRE(s["shards"].size() == 3);
  for (int i = 300; i < 600; ++i) set(fmt::format("c:{}", i));
  s = wait_status(
      ferry, port, 30, [](const auto& s) { return s["totals"]["commands"] == 300 && s["totals"]["lag_bytes"] == 0; },
      "300 commands, no lag");
  CHECK(s["totals"]["keys_copied"] == 300);
  const std::string m = metrics_of(port);
  INFO(m);
  for (int shard = 0; shard < 3; ++shard) {
    CHECK(sample(m, fmt::format("ferry_lag_bytes{{shard=\"{}\"}}", shard)) == 0);
    CHECK(sample(m, fmt::format("ferry_lag_seconds{{shard=\"{}\"}}", shard)).has_value());
    CHECK(s["shards"][shard]["phase"] == "stream");
    CHECK(s["shards"][shard]["commands"].get<uint64_t>() > 0);  // each shard took some of the writes
  }
  CHECK(sample(m, "ferry_stream_commands_total{command=\"SET\"}") == 300);
  CHECK(ferry.stop().exit_code == 0);
}
