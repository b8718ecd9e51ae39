#include "sim_command.h"

#include "task_options.h"

#include "common_options.h"
#include "task_options.h"
#include "core/error.h"
#include "core/log.h"
#include "proxy/fault_proxy.h"
#include "redis/dialer.h"
#include "target/target.h"
#include "topology/topology.h"
#include "workload/load_generator.h"
#include "workload/mixed_dataset.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>
#include <tuple>
#include <utility>

namespace ferry::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop(int) { g_stop = true; }

// Until SIGINT/SIGTERM, or `seconds` when positive.
void wait_for_stop(double seconds) {
  std::signal(SIGINT, on_stop);
  std::signal(SIGTERM, on_stop);
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!g_stop && (seconds <= 0 || std::chrono::steady_clock::now() < until))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

struct ServersOptions {
  LogFlags log;
  int replicas = 0;
  std::string cluster;  // "MASTERSxREPLICAS", e.g. "3x1"
  std::string version = "system";
  std::string maxmemory;
  std::string policy;
  std::vector<std::string> config;
  int databases = 16;
  double duration = 0;
  bool tls = false;
  std::string tls_auth_clients = "no";
};

// "3x1" -> {3, 1}: masters 1-100, replicas per master 0-16.
std::pair<int, int> parse_cluster_shape(const std::string& text) {
  int masters = -1, replicas = -1;
  size_t x = text.find('x');
  auto number = [](const std::string& digits) {
    if (digits.empty() || digits.size() > 4 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stoi(digits);
  };
  if (x != std::string::npos) {
    masters = number(text.substr(0, x));
    replicas = number(text.substr(x + 1));
  }
  if (masters < 1 || masters > 100 || replicas < 0 || replicas > 16)
    throw FerryError(ExitCode::Usage, fmt::format("--cluster '{}': expected MASTERSxREPLICAS, e.g. 3x1 (masters 1-100, "
                                                  "replicas per master 0-16)",
                                                  text));
  return {masters, replicas};
}

int run_servers(const ServersOptions& o) {
  o.log.apply();
  std::optional<std::pair<int, int>> shape;
  if (!o.cluster.empty()) shape = parse_cluster_shape(o.cluster);
  auto binary = sim::server_binary(o.version);
  if (!binary)
    throw FerryError(ExitCode::Usage, fmt::format("server version '{}' is not fetched (run tools/fetch-servers; names: "
                                                  "system, redis-6.0, redis-8.0, valkey-8.0, valkey-8.1)",
                                                  o.version));
  sim::TopologySpec spec;
  spec.master.binary = *binary;
  spec.master.databases = o.databases;
  if (!o.maxmemory.empty()) spec.master.maxmemory = o.maxmemory;
  spec.master.maxmemory_policy = o.policy;
  for (const auto& kv : o.config) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) throw FerryError(ExitCode::Usage, fmt::format("--config '{}': not KEY=VALUE", kv));
    spec.master.config.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  spec.replicas = o.replicas;
  if (shape) std::tie(spec.cluster_masters, spec.replicas) = *shape;
  if (o.tls) spec.master.tls = sim::server_tls(sim::make_tls_files(), o.tls_auth_clients);  // removed with the servers
  sim::Topology topology(spec);
  std::cout << topology.describe() << std::endl;
  log::info("servers running; SIGINT or SIGTERM stops them{}", o.duration > 0 ? fmt::format(" (or {} s)", o.duration) : "");
  wait_for_stop(o.duration);
  topology.stop();
  return 0;
}

struct ProxyOptions {
  LogFlags log;
  int listen = 0;
  std::string to;
  std::vector<std::string> faults;
  uint64_t seed = 1;
  double duration = 0;
};

int run_proxy(const ProxyOptions& o) {
  o.log.apply();
  auto colon = o.to.rfind(':');
  if (colon == std::string::npos) throw FerryError(ExitCode::Usage, fmt::format("--to '{}': not HOST:PORT", o.to));
  std::vector<sim::FaultSpec> specs;
  for (const auto& f : o.faults) specs.push_back(sim::parse_fault_spec(f));  // all checked before listening
  sim::FaultProxyOptions options;
  options.listen_port = o.listen;
  options.seed = o.seed;
  sim::FaultProxy proxy(o.to.substr(0, colon), std::atoi(o.to.c_str() + colon + 1), options);
  for (const auto& spec : specs) proxy.add(spec);
  std::cout << fmt::format("ferry sim proxy: 127.0.0.1:{} -> {} with {} fault(s)", proxy.port(), o.to, specs.size()) << std::endl;
  wait_for_stop(o.duration);
  auto s = proxy.stats();
  std::cout << fmt::format("connections {}, bytes up {}, down {}, resets {}, closes {}, refusals {}\n", s.connections,
                           s.bytes_up, s.bytes_down, s.resets, s.closes, s.refusals);
  return 0;
}

struct LoadCliOptions {
  LogFlags log;
  TaskFlags target;  // --target URI, its password file and TLS options
  uint64_t seed = 1;
  double rate = 1000;
  double duration = 10;
  uint64_t max_commands = 0;
  std::vector<int> dbs{0, 1};
  size_t keyspace = 200;
  std::string mix;
  std::string op_log;
  std::optional<size_t> hash_tags;
};

// A mix file: TOML, `group = weight` at the top level or under [weights].
std::map<std::string, double> read_mix(const std::string& path) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw FerryError(ExitCode::Usage, fmt::format("{}:{}:{}: {}", path, e.source().begin.line, e.source().begin.column,
                                                  e.description()));
  }
  const toml::table* weights = t["weights"].as_table() ? t["weights"].as_table() : &t;
  std::map<std::string, double> out;
  for (const auto& [k, v] : *weights) {
    auto w = v.value<double>();
    if (!w)
      throw FerryError(ExitCode::Usage, fmt::format("{}:{}:{}: the weight of '{}' must be a number", path,
                                                    v.source().begin.line, v.source().begin.column, k.str()));
    out[std::string(k.str())] = *w;
  }
  return out;
}

int run_load(const LoadCliOptions& o) {
  o.log.apply();
  const Endpoint ep = o.target.resolve(false).target_endpoint();
  sim::LoadOptions options;
  options.seed = o.seed;
  options.rate = o.rate;
  options.duration_s = o.duration;
  options.max_commands = o.max_commands;
  options.dbs = o.dbs;
  options.keyspace = o.keyspace;
  options.op_log = o.op_log;
  if (!o.mix.empty()) options.weights = read_mix(o.mix);
  // A cluster: each step on its slot's master (redirections followed), DB 0, keys with hash tags.
  const Dialer dialer;  // outlives the target, which dials the nodes it is redirected to
  auto target = open_target(dialer, ep, PipelineLimits{options.pipeline, 64 << 20});
  if (target->facts().cluster) {
    if (o.dbs != std::vector<int>{0, 1} && o.dbs != std::vector<int>{0})
      throw FerryError(ExitCode::Usage, fmt::format("{} is a cluster: DB 0 only (--db 0)", target->describe()));
    options.dbs = {0};
  }
  options.hash_tags = o.hash_tags.value_or(target->facts().cluster ? 64 : 0);
  sim::LoadGenerator generator(options);
  std::signal(SIGINT, on_stop);
  std::signal(SIGTERM, on_stop);
  sim::LoadStats stats = generator.run(*target, &g_stop);
  std::cout << fmt::format("ferry sim load: {} commands in {:.1f} s ({:.0f}/s), {} error replies, seed {}\n", stats.commands,
                           stats.seconds, stats.seconds > 0 ? stats.commands / stats.seconds : 0.0, stats.errors, o.seed);
  for (const auto& [cmd, n] : stats.per_command) std::cout << fmt::format("  {:<18} {}\n", cmd, n);
  return 0;
}

struct FillOptions {
  LogFlags log;
  TaskFlags target;  // --target URI, its password file and TLS options
  size_t keys = 10000;
  uint64_t seed = 1;
  std::vector<int> dbs{0};
  double expiring = 0.2;
  bool big = true;
};

int run_fill(const FillOptions& o) {
  o.log.apply();
  const Endpoint ep = o.target.resolve(false).target_endpoint();
  const Dialer dialer;  // outlives the target, which dials the nodes it is redirected to
  auto target = open_target(dialer, ep, PipelineLimits{});  // a cluster: each key on its slot's master
  if (target->facts().cluster && o.dbs != std::vector<int>{0})
    throw FerryError(ExitCode::Usage, fmt::format("{} is a cluster: DB 0 only (--db 0)", target->describe()));
  sim::MixedDatasetOptions options;
  options.seed = o.seed;
  options.dbs = o.dbs;
  options.keys_per_db = std::max<size_t>(1, o.keys / std::max<size_t>(1, o.dbs.size()));
  options.expiring_fraction = o.expiring;
  options.big_encodings = o.big;
  auto started = std::chrono::steady_clock::now();
  sim::MixedDatasetStats stats = sim::fill_mixed_dataset(*target, options);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << fmt::format("ferry sim fill: {} keys ({} expiring, {} streams) in DBs [{}] in {:.1f} s, seed {}\n", stats.keys,
                           stats.expiring, stats.streams, fmt::join(o.dbs, ","), secs, o.seed);
  return 0;
}

}  // namespace

void add_sim_command(CLI::App& app, std::function<int()>& run) {
  auto* sim = app.add_subcommand("sim", "The simulator's building blocks by hand: servers, a fault proxy, a seeded load, a dataset");
  sim->require_subcommand(1);

  auto so = std::make_shared<ServersOptions>();
  auto* servers = sim->add_subcommand("servers", "Start a master (and replicas), or a Redis Cluster, on free loopback ports, "
                                                 "print them as JSON, and stop them on SIGINT/SIGTERM (or after --duration)");
  so->log.add_to(*servers);
  auto* replicas = servers->add_option("--replicas", so->replicas, "Replicas of the master (REPLICAOF, waited for)")
                       ->capture_default_str()
                       ->check(CLI::Range(0, 16));
  servers->add_option("--cluster", so->cluster, "A Redis Cluster of MASTERSxREPLICAS, e.g. 3x1: slots spread evenly, each "
                                                "replica on its master, waited for until every node reports cluster_state:ok "
                                                "(the JSON gives each node's id and its shard's slots)")
      ->excludes(replicas);
  servers->add_option("--version", so->version, "system, redis-6.0, redis-8.0, valkey-8.0, valkey-8.1 (see tools/fetch-servers)")
      ->capture_default_str();
  servers->add_option("--maxmemory", so->maxmemory, "maxmemory of the master, e.g. 50mb");
  servers->add_option("--policy", so->policy, "maxmemory-policy of the master, e.g. noeviction, allkeys-lru");
  servers->add_option("--databases", so->databases, "databases")->capture_default_str()->check(CLI::Range(1, 10000));
  servers->add_option("--config", so->config, "Any directive as KEY=VALUE, repeatable (repl-backlog-size=1mb, "
                                              "repl-diskless-sync=yes, list-max-listpack-size=4 ...)");
  servers->add_option("--duration", so->duration, "Stop after this many seconds (0: on a signal)")->check(non_negative());
  servers->add_flag("--tls", so->tls, "TLS only (tls-port, tls-replication, tls-cluster), with a CA and server and client "
                                      "certificates made for this run (their files are printed; removed at the end)");
  servers->add_option("--tls-auth-clients", so->tls_auth_clients, "With --tls: whether clients must show a certificate")
      ->capture_default_str()->check(CLI::IsMember({"no", "yes", "optional"}));
  servers->callback([&run, so] { run = [so] { return run_servers(*so); }; });

  auto po = std::make_shared<ProxyOptions>();
  auto* proxy = sim->add_subcommand("proxy", std::string("Run the fault proxy between a client and a server until "
                                                         "SIGINT/SIGTERM (or --duration).\n") +
                                                 sim::fault_spec_grammar());
  po->log.add_to(*proxy);
  proxy->add_option("--listen", po->listen, "Port to listen on, on 127.0.0.1 (0: a free one, printed)")->capture_default_str();
  proxy->add_option("--to", po->to, "The server: HOST:PORT")->required();
  proxy->add_option("--fault", po->faults, "A fault, repeatable (grammar above)");
  proxy->add_option("--seed", po->seed, "Seed of the random choices (latency jitter)")->capture_default_str();
  proxy->add_option("--duration", po->duration, "Stop after this many seconds (0: on a signal)")->check(non_negative());
  proxy->callback([&run, po] { run = [po] { return run_proxy(*po); }; });

  auto lo = std::make_shared<LoadCliOptions>();
  auto* load = sim->add_subcommand(
      "load", "Send a seeded write load of every replicated command (the same commands for a seed) at a rate for a "
              "duration. Mix groups: string, expiry, list, push, hash, set, zset, stream, other, keyspace, multi, lua, "
              "lua-fail, big, db (SWAPDB/FLUSHDB/FLUSHALL, SELECT inside MULTI; not in the default mix)");
  lo->log.add_to(*load);
  lo->target.add_to(*load, endpoint_keys("target"), false);
  load->get_option("--target")->required();
  load->add_option("--seed", lo->seed, "Seed: the same seed sends the same commands")->capture_default_str();
  load->add_option("--rate", lo->rate, "Commands per second (0: as fast as the server answers)")->capture_default_str()
      ->check(non_negative());
  load->add_option("--duration", lo->duration, "Seconds to run (0: until --max-commands or a signal)")->capture_default_str()
      ->check(non_negative());
  load->add_option("--max-commands", lo->max_commands, "Stop after this many commands (0: no limit)")->capture_default_str();
  load->add_option("--db", lo->dbs, "DBs written, e.g. 0,1")->delimiter(',')->check(CLI::Range(0, 255))->capture_default_str();
  load->add_option("--keyspace", lo->keyspace, "Keys per group and type")->capture_default_str();
  load->add_option("--mix", lo->mix, "TOML file of group weights (`string = 10`, or under [weights]); groups left out weigh 0");
  load->add_option("--op-log", lo->op_log, "Write each command and its reply as a JSON line to this file");
  load->add_option("--hash-tags", lo->hash_tags,
                   "Keys carry one of N hash tags, one per step (default: 64 on a Redis Cluster, where each step is sent to "
                   "its slot's master; else none)");
  load->callback([&run, lo] { run = [lo] { return run_load(*lo); }; });

  auto fo = std::make_shared<FillOptions>();
  auto* fill = sim->add_subcommand("fill", "Fill a server quickly (pipelined) with a seeded dataset of every type and encoding");
  fo->log.add_to(*fill);
  fo->target.add_to(*fill, endpoint_keys("target"), false);
  fill->get_option("--target")->required();
  fill->add_option("--keys", fo->keys, "Keys in all (spread over --db)")->capture_default_str();
  fill->add_option("--seed", fo->seed, "Seed")->capture_default_str();
  fill->add_option("--db", fo->dbs, "DBs, e.g. 0,1,5")->delimiter(',')->check(CLI::Range(0, 255))->capture_default_str();
  fill->add_option("--expiring", fo->expiring, "Fraction of keys with an expiry (1-10 hours ahead)")->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  fill->add_flag("!--no-big", fo->big, "Leave out the collections past the small-encoding limits");
  fill->callback([&run, fo] { run = [fo] { return run_fill(*fo); }; });
}

}  // namespace ferry::cli
