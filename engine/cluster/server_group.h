// The servers that hold one keyspace, for reading it key by key (verify, precheck): one server, or
// every master of a cluster with its slot map, each key read on the master that owns its slot.
#pragma once

#include "cluster/cluster_topology.h"
#include "redis/connection.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

class ServerGroup {
 public:
  // `seed`: a connection to the server the user named. When it is a cluster node, every master is
  // connected to with the seed's credentials and timeouts; FerryError(Connection) names a master
  // that does not answer. Whether every slot is served is the caller's to check (topology()).
  ServerGroup(std::unique_ptr<Connection> seed, const Timeouts& timeouts);
  static ServerGroup open(const Endpoint& endpoint, const Timeouts& timeouts) {
    return ServerGroup(Connection::open(endpoint, timeouts), timeouts);
  }

  bool cluster() const { return topology_.has_value(); }
  const ClusterTopology* topology() const { return topology_ ? &*topology_ : nullptr; }
  size_t size() const { return nodes_.size(); }
  Connection& node(size_t i) { return *nodes_.at(i); }
  // The node that holds `key` (0 for one server); FerryError(Failed) when no master serves its slot.
  size_t node_of(std::string_view key) const;
  Connection& for_key(std::string_view key) { return node(node_of(key)); }
  // Every node with `db` selected (a cluster has DB 0 only).
  void select(int db);
  // "target 127.0.0.1:7001", or "target cluster 127.0.0.1:7001 (3 masters)".
  std::string describe() const;
  // "target shard 127.0.0.1:7002 (slots 5461-10922)", or describe() for one server.
  std::string describe_node(size_t i) const;

 private:
  Endpoint seed_;
  std::vector<std::unique_ptr<Connection>> nodes_;
  std::optional<ClusterTopology> topology_;
};

}  // namespace ferry
