#include "topology/topology.h"

#include "core/log.h"
#include "redis/connection.h"
#include "target/cluster_slots.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

namespace ferry::sim {

using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kPoll = std::chrono::milliseconds(25);
// A replica gives a manual failover up after CLUSTER_MF_TIMEOUT (5 s); then it is asked again.
constexpr auto kManualFailoverRetry = std::chrono::seconds(6);

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

bool can_bind(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// A port P for a cluster node: P and its bus port P+10000 free, both below the kernel's ephemeral
// range (no outgoing connection takes them meanwhile), and P at most 55535 (Redis 6 refuses more).
int free_cluster_port() {
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  std::uniform_int_distribution<int> pick(10000, 22000);
  for (int i = 0; i < 2000; ++i) {
    int port = pick(rng);
    if (can_bind(port) && can_bind(port + 10000)) return port;
  }
  throw std::runtime_error("no free pair of loopback ports (P, P+10000) for a cluster node between 10000 and 32000");
}

// "0-99,5461-10922": ranges sorted, adjacent ones merged.
std::string join_ranges(std::vector<std::pair<int, int>> ranges) {
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<int, int>> merged;
  for (const auto& r : ranges) {
    if (!merged.empty() && r.first <= merged.back().second + 1) merged.back().second = std::max(merged.back().second, r.second);
    else merged.push_back(r);
  }
  std::string out;
  for (const auto& [a, b] : merged) out += (out.empty() ? "" : ",") + (a == b ? std::to_string(a) : fmt::format("{}-{}", a, b));
  return out;
}

std::vector<std::string> split(std::string_view text, char by) {
  std::vector<std::string> out;
  for (size_t start = 0; start <= text.size();) {
    size_t end = std::min(text.find(by, start), text.size());
    if (end > start) out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// The slots redis-cli gives master i of n: even contiguous ranges (0-5460, 5461-10922, 10923-16383).
std::pair<int, int> initial_slots(int i, int n) {
  const double per = static_cast<double>(kClusterSlots) / n;
  auto last_of = [&](int k) { return k == n - 1 ? kClusterSlots - 1 : static_cast<int>(std::lround(per * k + per - 1)); };
  const int first = i == 0 ? 0 : last_of(i - 1) + 1;
  return {first, std::max(first, last_of(i))};
}

// "ok" or "fail" from CLUSTER INFO's "cluster_state:ok" line ("" when absent). INFO's own cluster
// section has cluster_enabled only.
std::string cluster_state(const std::string& cluster_info) {
  auto pos = cluster_info.find("cluster_state:");
  if (pos == std::string::npos) return "";
  pos += 14;
  return cluster_info.substr(pos, cluster_info.find_first_of("\r\n", pos) - pos);
}

}  // namespace

// One line of CLUSTER NODES: "<id> <ip:port@bus[,host]> <flags> <master|-> <ping> <pong> <epoch>
// <link> <slot ranges...>", the importing/migrating entries ("[93-<-id]") left out.
struct Topology::Node {
  std::string id;
  int port = 0;
  std::string flags;
  bool myself = false, master = false, unsettled = false;  // unsettled: handshake, noaddr, fail?, fail
  std::string master_id;
  std::vector<std::pair<int, int>> slots;
};

struct Topology::ClusterView {
  std::vector<Node> nodes;

  const Node* find(const std::string& id) const {
    for (const auto& n : nodes)
      if (n.id == id) return &n;
    return nullptr;
  }
  const Node* self() const {
    for (const auto& n : nodes)
      if (n.myself) return &n;
    return nullptr;
  }
  // One line per node, sorted, without what differs by who looks (myself, pings, links): equal
  // signatures are views that agree on roles, masters and slots.
  std::string signature() const {
    std::vector<std::string> lines;
    for (const auto& n : nodes)
      lines.push_back(n.master ? fmt::format("{} master {}", n.id, join_ranges(n.slots))
                               : fmt::format("{} replica of {}", n.id, n.master_id));
    std::sort(lines.begin(), lines.end());
    std::string out;
    for (const auto& l : lines) out += "  " + l + "\n";
    return out;
  }
  static ClusterView parse(const std::string& text) {
    ClusterView v;
    for (const auto& line : split(text, '\n')) {
      auto w = split(line, ' ');
      if (w.size() < 8) continue;
      Node n;
      n.id = w[0];
      std::string addr = w[1].substr(0, w[1].find_first_of("@,"));
      n.port = std::atoi(addr.c_str() + addr.rfind(':') + 1);
      n.flags = w[2];
      for (const auto& f : split(w[2], ',')) {
        if (f == "myself") n.myself = true;
        else if (f == "master") n.master = true;
        else if (f == "handshake" || f == "noaddr" || f == "fail?" || f == "fail") n.unsettled = true;
      }
      n.master_id = w[3] == "-" ? "" : w[3];
      for (size_t i = 8; i < w.size(); ++i) {
        if (w[i].empty() || w[i][0] == '[') continue;
        auto dash = w[i].find('-');
        int a = std::atoi(w[i].c_str());
        n.slots.emplace_back(a, dash == std::string::npos ? a : std::atoi(w[i].c_str() + dash + 1));
      }
      v.nodes.push_back(std::move(n));
    }
    return v;
  }
};

struct Topology::Pending {
  std::string why;
  const RedisServer* node = nullptr;  // whose log tail the error shows
};

namespace {
// Runs `check` for one node: an exception (a broken link, an error reply) is a reason to wait more.
template <class F>
auto on_node(const RedisServer& node, F check) -> decltype(check()) {
  try {
    return check();
  } catch (const std::exception& e) {
    using Pending = typename decltype(check())::value_type;  // aggregate: clang 14 has no (args) form
    return Pending{fmt::format("127.0.0.1:{}: {}", node.port(), e.what()), &node};
  }
}
}  // namespace

std::optional<std::string> server_binary(const std::string& version) {
  if (version.empty() || version == "system") return std::string();
  const char* cache = std::getenv("FERRY_SERVER_CACHE");
  const char* home = std::getenv("HOME");
  std::string dir = cache && *cache ? cache : std::string(home ? home : "/root") + "/.cache/ferry/servers";
  std::string path = dir + "/" + version;
  if (::access(path.c_str(), X_OK) != 0) return std::nullopt;
  return path;
}

Topology::Topology(TopologySpec spec) : timeout_seconds_(spec.link_timeout_seconds) {
  if (spec.cluster_masters > 0) start_cluster(spec);
  else start_replicated(spec);
}

Topology::~Topology() { stop(); }

void Topology::start_replicated(const TopologySpec& spec) {
  Shard shard;
  shard.master = std::make_unique<RedisServer>(spec.master);
  RedisServerOptions replica_options = spec.replica;
  if (replica_options.binary.empty()) {
    replica_options.binary = spec.master.binary;
    replica_options.launcher = spec.master.launcher;
  }
  if (!replica_options.tls) replica_options.tls = spec.master.tls;  // a TLS master's replicas speak TLS
  // A replica must authenticate to a master with requirepass.
  if (spec.master.requirepass) replica_options.config.emplace_back("masterauth", *spec.master.requirepass);
  for (int i = 0; i < spec.replicas; ++i) {
    auto replica = std::make_unique<RedisServer>(replica_options);
    auto conn = Connection::open(replica->endpoint("replica"));
    conn->checked({"REPLICAOF", "127.0.0.1", std::to_string(shard.master->port())});
    auto until = Clock::now() + std::chrono::duration<double>(spec.link_timeout_seconds);
    while (conn->info("replication")["master_link_status"] != "up") {
      if (Clock::now() > until)
        throw std::runtime_error(fmt::format("replica 127.0.0.1:{} did not link to its master 127.0.0.1:{} within {} s; "
                                             "its log ends:\n{}",
                                             replica->port(), shard.master->port(), spec.link_timeout_seconds,
                                             replica->log_tail()));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    shard.replicas.push_back(std::move(replica));
  }
  shards_.push_back(std::move(shard));
}

void Topology::start_cluster(const TopologySpec& spec) {
  cluster_ = true;
  const auto started = Clock::now();
  if (spec.cluster_masters > kClusterSlots)
    throw std::runtime_error(fmt::format("a cluster of {} masters: at most {}", spec.cluster_masters, kClusterSlots));
  auto options_for = [&](RedisServerOptions o) {
    o.requirepass = spec.master.requirepass;  // one password for all: any node may become master
    std::vector<std::pair<std::string, std::string>> config{
        {"cluster-enabled", "yes"},
        {"cluster-config-file", "nodes.conf"},  // relative to --dir: each node's own directory
        {"cluster-node-timeout", std::to_string(spec.cluster_node_timeout_ms)},
        {"cluster-require-full-coverage", spec.cluster_require_full_coverage ? "yes" : "no"}};
    if (o.requirepass) config.emplace_back("masterauth", *o.requirepass);
    config.insert(config.end(), o.config.begin(), o.config.end());  // the caller's directives win
    o.config = std::move(config);
    return o;
  };
  RedisServerOptions replica_options = spec.replica;
  if (replica_options.binary.empty()) {
    replica_options.binary = spec.master.binary;
    replica_options.launcher = spec.master.launcher;
  }
  if (!replica_options.tls) replica_options.tls = spec.master.tls;  // a TLS master's replicas speak TLS
  auto start = [](RedisServerOptions o) {
    for (int attempt = 0;; ++attempt) {
      o.port = free_cluster_port();
      try {
        return std::make_unique<RedisServer>(o);
      } catch (const std::runtime_error& e) {  // another process took the port (or the bus port)
        if (attempt == 4 || std::string(e.what()).find("in use") == std::string::npos) throw;
      }
    }
  };
  shards_.resize(static_cast<size_t>(spec.cluster_masters));
  for (auto& shard : shards_) shard.master = start(options_for(spec.master));
  for (auto& shard : shards_)
    for (int r = 0; r < spec.replicas; ++r) shard.replicas.push_back(start(options_for(replica_options)));
  log::debug("cluster: {} nodes started in {:.2f} s", nodes().size(), seconds_since(started));
  form_cluster();
  log::debug("cluster: {}x{} up in {:.2f} s", spec.cluster_masters, spec.replicas, seconds_since(started));
}

// As redis-cli --cluster create does it: slots on the masters and a distinct config epoch on every
// node before they meet, CLUSTER MEET to the first node, then CLUSTER REPLICATE once a replica
// knows its master, then waiting until every node sees the same cluster and reports ok.
void Topology::form_cluster() {
  const std::vector<const RedisServer*> all = nodes();
  for (size_t k = 0; k < all.size(); ++k) {
    const RedisServer& s = *all[k];
    node_ids_[&s] = must(s, {"CLUSTER", "MYID"}, "CLUSTER MYID").str;
    // 7.0+: a master whose last slot moves away would become a replica of the new owner; here a
    // shard stays a shard (an empty master), so that shard indexes keep their meaning.
    if (s.version() >= 70000) ask(s, {"CONFIG", "SET", "cluster-allow-replica-migration", "no"});
    must(s, {"CLUSTER", "SET-CONFIG-EPOCH", std::to_string(k + 1)}, "CLUSTER SET-CONFIG-EPOCH");
  }
  for (size_t i = 0; i < shards_.size(); ++i) {
    const RedisServer& m = *shards_[i].master;
    auto [first, last] = initial_slots(static_cast<int>(i), static_cast<int>(shards_.size()));
    if (m.version() >= 70000) {
      must(m, {"CLUSTER", "ADDSLOTSRANGE", std::to_string(first), std::to_string(last)}, "CLUSTER ADDSLOTSRANGE");
      continue;
    }
    for (int from = first; from <= last; from += 1000) {  // no ADDSLOTSRANGE before 7.0: batches
      Args args{"CLUSTER", "ADDSLOTS"};
      for (int s = from; s <= std::min(last, from + 999); ++s) args.push_back(std::to_string(s));
      must(m, args, "CLUSTER ADDSLOTS");
    }
  }
  for (size_t k = 1; k < all.size(); ++k)
    must(*all[k], {"CLUSTER", "MEET", "127.0.0.1", std::to_string(all[0]->port())}, "CLUSTER MEET");

  wait_until("every cluster node to know every other", [&]() -> std::optional<Pending> {
    for (const RedisServer* s : all)
      if (auto pending = on_node(*s, [&] { return knows_everyone(*s, view_of(*s)); })) return pending;
    return std::nullopt;
  });

  std::set<const RedisServer*> replicating;
  wait_until("the replicas to replicate their masters, the cluster to agree and report ok", [&]() -> std::optional<Pending> {
    for (auto& shard : shards_) {
      const std::string& master_id = node_id(*shard.master);
      for (auto& r : shard.replicas) {
        auto pending = on_node(*r, [&]() -> std::optional<Pending> {
          if (!replicating.count(r.get())) {
            const ClusterView v = view_of(*r);
            const Node* m = v.find(master_id);
            if (!m || !m->master) return Pending{fmt::format("127.0.0.1:{} does not know its master as a master yet", r->port()), r.get()};
            Reply reply = ask(*r, {"CLUSTER", "REPLICATE", master_id});
            if (reply.is_error()) return Pending{fmt::format("127.0.0.1:{}: CLUSTER REPLICATE: {}", r->port(), reply.str), r.get()};
            replicating.insert(r.get());
          }
          if (conn(*r).info("replication")["master_link_status"] != "up")
            return Pending{fmt::format("127.0.0.1:{}: its link to its master is not up", r->port()), r.get()};
          return std::nullopt;
        });
        if (pending) return pending;
      }
    }
    return agreement();
  });
}

RedisServer& Topology::master(size_t shard) {
  if (cluster_) follow_failover(shard);
  return *shards_.at(shard).master;
}

RedisServer& Topology::replica(size_t i, size_t shard) {
  if (cluster_) follow_failover(shard);
  return *shards_.at(shard).replicas.at(i);
}

std::vector<RedisServer*> Topology::servers() {
  std::vector<RedisServer*> out;
  for (size_t i = 0; i < shards_.size(); ++i) {
    if (cluster_) follow_failover(i);
    out.push_back(shards_[i].master.get());
    for (auto& r : shards_[i].replicas) out.push_back(r.get());
  }
  return out;
}

std::vector<const RedisServer*> Topology::nodes() const {
  std::vector<const RedisServer*> out;
  for (const auto& s : shards_) {
    out.push_back(s.master.get());
    for (const auto& r : s.replicas) out.push_back(r.get());
  }
  return out;
}

std::string Topology::describe() const {
  std::optional<ClusterView> view;
  if (cluster_) try {
      view = any_view(0);
    } catch (const std::exception&) {  // every node is down: describe what was started
    }
  nlohmann::json j = nlohmann::json::array();
  for (size_t i = 0; i < shards_.size(); ++i) {
    auto node = [&](const RedisServer& s, bool is_master) {
      nlohmann::json o{{"shard", i}, {"role", is_master ? "master" : "replica"}, {"uri", s.uri()},
                       {"pid", s.pid()}, {"version", s.version()}, {"dir", s.dir()}};
      if (const ServerTls* tls = s.tls())  // the files a client needs (paths only)
        o["tls"] = {{"ca", tls->ca}, {"cert", tls->client.cert}, {"key", tls->client.key}};
      if (cluster_) {
        if (const Node* n = view ? view->find(node_id(s)) : nullptr) o["role"] = n->master ? "master" : "replica";
        o["node_id"] = node_id(s);
        o["slots"] = view ? shard_ranges(*view, i) : "";
      }
      return o;
    };
    j.push_back(node(*shards_[i].master, true));
    for (const auto& r : shards_[i].replicas) j.push_back(node(*r, false));
  }
  return j.dump(2);
}

void Topology::stop() {
  conns_.clear();
  for (auto& s : shards_) {
    for (auto& r : s.replicas) r->stop();
    if (s.master) s.master->stop();
  }
}

Connection& Topology::conn(const RedisServer& server) const {
  auto& c = conns_[&server];
  if (!c) c = Connection::open(server.endpoint("cluster node"), Timeouts{std::chrono::milliseconds(2000), std::chrono::milliseconds(15000)});
  return *c;
}

Reply Topology::ask(const RedisServer& server, const Args& args) const {
  try {
    return conn(server).command(args);
  } catch (const LinkError&) {  // the server was restarted, or the link broke: once more on a new one
    conns_.erase(&server);
    return conn(server).command(args);
  }
}

Reply Topology::must(const RedisServer& server, const Args& args, const std::string& doing) const {
  Reply r = ask(server, args);
  if (r.is_error()) throw std::runtime_error(fmt::format("127.0.0.1:{}: {}: {}", server.port(), doing, r.str));
  return r;
}

const std::string& Topology::node_id(const RedisServer& server) const {
  auto it = node_ids_.find(&server);
  if (it == node_ids_.end()) throw std::runtime_error(fmt::format("127.0.0.1:{} is not a cluster node of this topology", server.port()));
  return it->second;
}

const RedisServer* Topology::node_with_id(const std::string& id) const {
  for (const auto& [server, server_id] : node_ids_)
    if (server_id == id) return server;
  return nullptr;
}

bool Topology::in_shard(size_t shard, const std::string& id) const {
  const RedisServer* s = node_with_id(id);
  const Shard& sh = shards_.at(shard);
  return s && (s == sh.master.get() || std::any_of(sh.replicas.begin(), sh.replicas.end(), [&](const auto& r) { return r.get() == s; }));
}

Topology::ClusterView Topology::view_of(const RedisServer& server) const {
  return ClusterView::parse(must(server, {"CLUSTER", "NODES"}, "CLUSTER NODES").str);
}

Topology::ClusterView Topology::any_view(size_t shard) const {
  std::vector<const RedisServer*> order = nodes();
  order.insert(order.begin(), shards_.at(shard).master.get());
  std::string why = "no node is running";
  for (const RedisServer* s : order) {
    if (!s->running()) continue;
    try {
      return view_of(*s);
    } catch (const std::exception& e) {
      why = e.what();
    }
  }
  throw std::runtime_error(fmt::format("no cluster node answers CLUSTER NODES: {}", why));
}

std::string Topology::shard_ranges(const ClusterView& view, size_t shard) const {
  std::vector<std::pair<int, int>> slots;
  for (const auto& n : view.nodes)
    if (n.master && in_shard(shard, n.id)) slots.insert(slots.end(), n.slots.begin(), n.slots.end());
  return join_ranges(slots);
}

// The node itself says (ROLE) whether it is master: the old master keeps saying so only until it
// learns of the failover, so a running master that says so is kept.
void Topology::follow_failover(size_t shard) {
  Shard& s = shards_.at(shard);
  auto is_master = [&](const RedisServer& n) {
    if (!n.running()) return false;
    try {
      Reply r = ask(n, {"ROLE"});
      return r.is_array() && !r.elements.empty() && r.elements[0].str == "master";
    } catch (const std::exception&) {
      return false;
    }
  };
  if (is_master(*s.master)) return;
  for (auto& r : s.replicas)
    if (is_master(*r)) {
      log::info("shard {}: 127.0.0.1:{} is its master now (was 127.0.0.1:{})", shard, r->port(), s.master->port());
      std::swap(s.master, r);
      return;
    }
}

void Topology::require_cluster(size_t shard, const char* what) const {
  if (!cluster_) throw std::runtime_error(fmt::format("{}: this topology is not a Redis Cluster", what));
  if (shard >= shards_.size()) throw std::runtime_error(fmt::format("{}: no shard {} (the cluster has {})", what, shard, shards_.size()));
}

template <class Check>
void Topology::wait_until(const std::string& what, Check check) const {
  auto until = Clock::now() + std::chrono::duration<double>(timeout_seconds_);
  for (;;) {
    std::optional<Pending> pending = check();
    if (!pending) return;
    if (Clock::now() > until) {
      std::string tail = pending->node ? fmt::format("; the log of 127.0.0.1:{} ends:\n{}", pending->node->port(), pending->node->log_tail()) : "";
      throw std::runtime_error(fmt::format("waited {} s for {}: {}{}", timeout_seconds_, what, pending->why, tail));
    }
    std::this_thread::sleep_for(kPoll);
  }
}

std::optional<Topology::Pending> Topology::knows_everyone(const RedisServer& s, const ClusterView& v) const {
  if (v.nodes.size() != node_ids_.size())
    return Pending{fmt::format("127.0.0.1:{} knows {} of {} nodes", s.port(), v.nodes.size(), node_ids_.size()), &s};
  for (const auto& n : v.nodes) {
    const RedisServer* other = node_with_id(n.id);
    if (n.unsettled && (!other || other->running()))  // a node that was stopped may be in doubt
      return Pending{fmt::format("127.0.0.1:{} sees 127.0.0.1:{} as {}", s.port(), n.port, n.flags), &s};
  }
  return std::nullopt;
}

std::optional<Topology::Pending> Topology::agreement() const {
  std::string first;
  const RedisServer* first_node = nullptr;
  for (const RedisServer* s : nodes()) {
    if (!s->running()) continue;
    auto pending = on_node(*s, [&]() -> std::optional<Pending> {
      ClusterView v = view_of(*s);
      if (auto p = knows_everyone(*s, v)) return p;
      std::string sig = v.signature();
      if (!first_node) {
        first = sig;
        first_node = s;
      } else if (sig != first) {
        return Pending{fmt::format("127.0.0.1:{} sees\n{}while 127.0.0.1:{} sees\n{}", s->port(), sig, first_node->port(), first), s};
      }
      std::string state = cluster_state(must(*s, {"CLUSTER", "INFO"}, "CLUSTER INFO").str);
      if (state != "ok") return Pending{fmt::format("127.0.0.1:{} reports cluster_state:{}", s->port(), state), s};
      return std::nullopt;
    });
    if (pending) return pending;
  }
  return std::nullopt;
}

std::string Topology::slots_of(size_t shard) {
  require_cluster(shard, "slots_of");
  follow_failover(shard);
  return shard_ranges(any_view(shard), shard);
}

size_t Topology::shard_of_key(std::string_view key) {
  require_cluster(0, "shard_of_key");
  const int slot = key_slot(key);
  const ClusterView v = any_view(0);
  for (const auto& n : v.nodes)
    for (const auto& [a, b] : n.slots)
      if (n.master && a <= slot && slot <= b)
        for (size_t i = 0; i < shards_.size(); ++i)
          if (in_shard(i, n.id)) return i;
  throw std::runtime_error(fmt::format("shard_of_key: no master owns slot {} (of key '{}')", slot, key));
}

void Topology::failover(size_t shard) {
  require_cluster(shard, "failover");
  follow_failover(shard);
  Shard& s = shards_[shard];
  auto replica = std::find_if(s.replicas.begin(), s.replicas.end(), [](const auto& r) { return r->running(); });
  if (replica == s.replicas.end()) throw std::runtime_error(fmt::format("failover: shard {} has no replica to promote", shard));
  if (!s.master->running()) throw std::runtime_error(fmt::format("failover: the master of shard {} is down", shard));
  RedisServer& old_master = *s.master;
  RedisServer& promoted = **replica;
  const ClusterView before = view_of(old_master);
  const Node* self = before.self();
  const int first_slot = self && !self->slots.empty() ? self->slots.front().first : -1;
  const auto started = Clock::now();
  auto asked = started;
  must(promoted, {"CLUSTER", "FAILOVER"}, "CLUSTER FAILOVER");
  wait_until(fmt::format("the failover of shard {} to 127.0.0.1:{}", shard, promoted.port()), [&]() -> std::optional<Pending> {
    auto pending = on_node(promoted, [&]() -> std::optional<Pending> {
      Reply role = ask(promoted, {"ROLE"});
      if (role.is_array() && !role.elements.empty() && role.elements[0].str == "master") return std::nullopt;
      if (Clock::now() - asked > kManualFailoverRetry) {  // the replica gave the failover up: again
        ask(promoted, {"CLUSTER", "FAILOVER"});
        asked = Clock::now();
      }
      return Pending{fmt::format("127.0.0.1:{} is not master yet", promoted.port()), &promoted};
    });
    if (pending || (pending = agreement())) return pending;
    const ClusterView v = view_of(promoted);
    const Node* old_line = v.find(node_id(old_master));
    if (!old_line || old_line->master || old_line->master_id != node_id(promoted))
      return Pending{fmt::format("the old master 127.0.0.1:{} is not a replica of 127.0.0.1:{} yet", old_master.port(), promoted.port()), &old_master};
    for (const RedisServer* n : nodes()) {  // what clients read: CLUSTER SLOTS of every node
      if (first_slot < 0 || !n->running()) continue;
      pending = on_node(*n, [&]() -> std::optional<Pending> {
        for (const auto& range : must(*n, {"CLUSTER", "SLOTS"}, "CLUSTER SLOTS").elements)
          if (range.elements.size() >= 3 && range.elements[0].integer <= first_slot && first_slot <= range.elements[1].integer &&
              range.elements[2].elements.size() >= 2 && range.elements[2].elements[1].integer == promoted.port())
            return std::nullopt;
        return Pending{fmt::format("CLUSTER SLOTS of 127.0.0.1:{} does not name 127.0.0.1:{} yet", n->port(), promoted.port()), n};
      });
      if (pending) return pending;
    }
    if (conn(old_master).info("replication")["master_link_status"] != "up")
      return Pending{fmt::format("the old master 127.0.0.1:{} has no link up to 127.0.0.1:{}", old_master.port(), promoted.port()), &old_master};
    return std::nullopt;
  });
  std::swap(s.master, *replica);
  log::info("shard {}: failed over from 127.0.0.1:{} to 127.0.0.1:{} in {:.2f} s", shard, old_master.port(), promoted.port(),
            seconds_since(started));
}

ReshardResult Topology::reshard(size_t from_shard, size_t to_shard, int slots) {
  require_cluster(from_shard, "reshard");
  require_cluster(to_shard, "reshard");
  if (from_shard == to_shard) throw std::runtime_error(fmt::format("reshard: shard {} to itself", from_shard));
  if (slots < 0) throw std::runtime_error(fmt::format("reshard: {} slots", slots));
  for (size_t i = 0; i < shards_.size(); ++i) follow_failover(i);
  const RedisServer& source = *shards_[from_shard].master;
  const RedisServer& dest = *shards_[to_shard].master;
  const auto started = Clock::now();

  std::vector<std::pair<int, int>> moving;  // the lowest `slots` the source owns, as it says itself
  int count = 0;
  const ClusterView view = view_of(source);
  std::vector<std::pair<int, int>> owned = view.self() ? view.self()->slots : std::vector<std::pair<int, int>>{};
  std::sort(owned.begin(), owned.end());
  for (const auto& [a, b] : owned)
    for (int slot = a; slot <= b && count < slots; ++slot, ++count) moving.emplace_back(slot, slot);
  if (count < slots) throw std::runtime_error(fmt::format("reshard: shard {} owns {} slots, cannot move {}", from_shard, count, slots));

  ReshardResult result;
  result.slots = count;
  result.ranges = join_ranges(moving);
  for (const auto& [slot, _] : moving) result.keys += move_slot(slot, source, dest);
  log::debug("reshard: slots moved in {:.2f} s; waiting for every node to agree", seconds_since(started));

  const std::string& dest_id = node_id(dest);
  wait_until(fmt::format("every node to see slots {} on 127.0.0.1:{}", result.ranges, dest.port()), [&]() -> std::optional<Pending> {
    if (auto pending = agreement()) return pending;
    const ClusterView v = view_of(dest);
    const Node* d = v.find(dest_id);
    auto owns = [&](int slot) {
      return d && std::any_of(d->slots.begin(), d->slots.end(), [&](const auto& r) { return r.first <= slot && slot <= r.second; });
    };
    if (!moving.empty() && (!owns(moving.front().first) || !owns(moving.back().first)))
      return Pending{fmt::format("127.0.0.1:{} does not list slots {} as its own", dest.port(), result.ranges), &dest};
    return std::nullopt;
  });
  result.seconds = seconds_since(started);
  log::info("reshard: {} slots ({}) and {} keys from shard {} (127.0.0.1:{}) to shard {} (127.0.0.1:{}) in {:.2f} s", result.slots,
            result.ranges, result.keys, from_shard, source.port(), to_shard, dest.port(), result.seconds);
  return result;
}

long long Topology::move_slot(int slot, const RedisServer& source, const RedisServer& dest) {
  const std::string n = std::to_string(slot);
  const std::string& source_id = node_id(source);
  const std::string& dest_id = node_id(dest);
  // IMPORTING before MIGRATING: the source's ASK must find a destination that accepts ASKING.
  must(dest, {"CLUSTER", "SETSLOT", n, "IMPORTING", source_id}, "reshard: CLUSTER SETSLOT " + n + " IMPORTING");
  must(source, {"CLUSTER", "SETSLOT", n, "MIGRATING", dest_id}, "reshard: CLUSTER SETSLOT " + n + " MIGRATING");
  long long moved = 0;
  for (;;) {  // new keys of the slot go to the destination now (ASK): the loop ends
    Reply keys = must(source, {"CLUSTER", "GETKEYSINSLOT", n, "100"}, "reshard: CLUSTER GETKEYSINSLOT " + n);
    if (keys.elements.empty()) break;
    Args migrate{"MIGRATE", "127.0.0.1", std::to_string(dest.port()), "", "0", "10000"};
    if (auto password = dest.endpoint().password) migrate.insert(migrate.end(), {"AUTH", *password});
    migrate.push_back("KEYS");
    for (const auto& k : keys.elements) migrate.push_back(k.str);
    Reply r = ask(source, migrate);
    if (r.is_error() && r.str.rfind("BUSYKEY", 0) == 0)
      throw std::runtime_error(fmt::format("reshard: slot {}: 127.0.0.1:{} already holds one of the {} keys MIGRATE moves to it "
                                           "from 127.0.0.1:{} ({}); like redis-cli without --cluster-replace, nothing is "
                                           "overwritten, and the slot stays MIGRATING/IMPORTING",
                                           slot, dest.port(), keys.elements.size(), source.port(), r.str));
    if (r.is_error())
      throw std::runtime_error(fmt::format("reshard: slot {}: MIGRATE of {} keys from 127.0.0.1:{} to 127.0.0.1:{}: {}", slot,
                                           keys.elements.size(), source.port(), dest.port(), r.str));
    if (r.str != "NOKEY") moved += static_cast<long long>(keys.elements.size());  // NOKEY: all gone meanwhile
  }
  // The destination first (it claims the slot with a new epoch), then the source (which redirects
  // with MOVED from then on), then the other masters, which would otherwise learn it by gossip.
  const std::string doing = "reshard: CLUSTER SETSLOT " + n + " NODE";
  must(dest, {"CLUSTER", "SETSLOT", n, "NODE", dest_id}, doing);
  must(source, {"CLUSTER", "SETSLOT", n, "NODE", dest_id}, doing);
  for (const auto& s : shards_)
    if (s.master.get() != &source && s.master.get() != &dest && s.master->running())
      must(*s.master, {"CLUSTER", "SETSLOT", n, "NODE", dest_id}, doing);
  return moved;
}

void Topology::set_shard_maxmemory(size_t shard, const std::string& bytes, const std::string& policy) {
  RedisServer& m = master(shard);
  must(m, {"CONFIG", "SET", "maxmemory", bytes}, "CONFIG SET maxmemory " + bytes);
  if (!policy.empty()) must(m, {"CONFIG", "SET", "maxmemory-policy", policy}, "CONFIG SET maxmemory-policy " + policy);
}

// The acknowledged offset of the first replica ("slave0:ip=...,offset=N,..."), or -1.
long long replica_offset(Connection& master) {
  auto info = master.info("replication");
  auto it = info.find("slave0");
  if (it == info.end()) return -1;
  auto pos = it->second.find("offset=");
  return pos == std::string::npos ? -1 : std::atoll(it->second.c_str() + pos + 7);
}

bool replica_online(Connection& master) {
  auto info = master.info("replication");
  auto it = info.find("slave0");
  return it != info.end() && it->second.find("state=online") != std::string::npos;
}

}  // namespace ferry::sim
