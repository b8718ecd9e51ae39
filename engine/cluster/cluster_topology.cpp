#include "cluster/cluster_topology.h"

#include <fmt/format.h>

#include <algorithm>

namespace ferry {
namespace {


std::string text(const Reply* r) {
  if (!r) return "";
  return r->is_integer() ? std::to_string(r->integer) : r->str;
}

void assign(SlotMap& map, long long first, long long last, int index) {
  for (long long s = std::max(0LL, first); s <= last && s < kClusterSlots; ++s) map.owner[static_cast<size_t>(s)] = index;
}

// A node's client port as CLUSTER SHARDS gives it: `tls-port` for a TLS client (a TLS-only node has
// no `port`), else `port`.
int port_of(const Reply& node, bool tls) {
  const Reply* port = tls && node.field("tls-port") ? node.field("tls-port") : node.field("port");
  return std::atoi(text(port).c_str());
}

// CLUSTER SLOTS already answers with the ports of the client's kind (TLS or not).
ClusterTopology from_shards(const Reply& shards, bool tls) {
  ClusterTopology t;
  for (const auto& shard : shards.elements) {
    const Reply* slots = shard.field("slots");
    const Reply* nodes = shard.field("nodes");
    if (!slots || !nodes) continue;
    const Reply* master = nullptr;
    for (const auto& n : nodes->elements)
      if (text(n.field("role")) == "master" && text(n.field("health")) != "fail") master = &n;
    if (!master || slots->elements.empty()) continue;
    auto host_of = [](const Reply& node) {
      std::string host = text(node.field("ip"));
      return host.empty() || host == "?" ? text(node.field("endpoint")) : host;
    };
    ClusterMaster m;
    m.id = text(master->field("id"));
    m.host = host_of(*master);
    m.port = port_of(*master, tls);
    for (const auto& n : nodes->elements)
      if (text(n.field("role")) == "replica")
        m.replicas.push_back({text(n.field("id")), host_of(n), port_of(n, tls),
                              text(n.field("health")) != "fail"});  // "loading": offset 0 as gossiped, maybe stale
    const int index = static_cast<int>(t.masters.size());
    t.masters.push_back(m);
    for (size_t i = 0; i + 1 < slots->elements.size(); i += 2)
      assign(t.slots, slots->elements[i].integer, slots->elements[i + 1].integer, index);
  }
  return t;
}

ClusterTopology from_slots(const Reply& ranges) {
  ClusterTopology t;
  for (const auto& range : ranges.elements) {
    if (range.elements.size() < 3 || range.elements[2].elements.size() < 2) continue;
    const Reply& node = range.elements[2];
    ClusterMaster m;
    m.host = node.elements[0].str;
    m.port = static_cast<int>(node.elements[1].integer);
    m.id = node.elements.size() > 2 ? node.elements[2].str : m.address();
    for (size_t r = 3; r < range.elements.size(); ++r) {
      const Reply& replica = range.elements[r];
      if (replica.elements.size() < 2) continue;
      m.replicas.push_back({replica.elements.size() > 2 ? replica.elements[2].str : "", replica.elements[0].str,
                            static_cast<int>(replica.elements[1].integer), true});
    }
    int index = -1;
    for (size_t i = 0; i < t.masters.size(); ++i)
      if (t.masters[i].address() == m.address()) index = static_cast<int>(i);
    if (index < 0) {
      index = static_cast<int>(t.masters.size());
      t.masters.push_back(m);
    }
    assign(t.slots, range.elements[0].integer, range.elements[1].integer, index);
  }
  return t;
}

}  // namespace

std::string ClusterMaster::address() const { return fmt::format("{}:{}", host, port); }
std::string ClusterReplica::address() const { return fmt::format("{}:{}", host, port); }

bool is_cluster(Connection& conn) {
  Reply r = conn.command({"INFO", "cluster"});
  return !r.is_error() && r.str.find("cluster_enabled:1") != std::string::npos;
}

ClusterTopology read_cluster_topology(Connection& node) {
  ClusterTopology t;
  Reply shards = node.version() >= 70000 ? node.command({"CLUSTER", "SHARDS"}) : Reply{};
  if (shards.is_array()) t = from_shards(shards, node.endpoint().tls.enabled);
  else t = from_slots(node.checked({"CLUSTER", "SLOTS"}));
  t.ok = node.checked({"CLUSTER", "INFO"}).str.find("cluster_state:ok") != std::string::npos;
  // A node that never met another does not know its own address (a one-node cluster): it is the
  // one asked.
  auto known = [&](std::string& host) {
    if (host.empty() || host == "?") host = node.endpoint().host;
  };
  for (auto& m : t.masters) {
    known(m.host);
    for (auto& r : m.replicas) known(r.host);
  }
  // Masters in the order of their first slot, as people list them.
  std::vector<int> first(t.masters.size(), kClusterSlots);
  for (int s = kClusterSlots - 1; s >= 0; --s)
    if (int o = t.slots.owner[static_cast<size_t>(s)]; o >= 0) first[static_cast<size_t>(o)] = s;
  std::vector<size_t> order(t.masters.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return first[a] < first[b]; });
  std::vector<int> index_of(order.size());
  ClusterTopology sorted;
  sorted.ok = t.ok;
  for (size_t i = 0; i < order.size(); ++i) {
    index_of[order[i]] = static_cast<int>(i);
    sorted.masters.push_back(t.masters[order[i]]);
  }
  for (size_t s = 0; s < sorted.slots.owner.size(); ++s)
    if (t.slots.owner[s] >= 0) sorted.slots.owner[s] = index_of[static_cast<size_t>(t.slots.owner[s])];
  return sorted;
}

}  // namespace ferry
