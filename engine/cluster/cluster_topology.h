// A Redis Cluster's layout as its nodes tell it: the masters and which slots each owns.
#pragma once

#include "redis/connection.h"
#include "target/cluster_slots.h"

#include <string>
#include <vector>

namespace ferry {

// A replica of a master, as the topology lists it.
struct ClusterReplica {
  std::string id;
  std::string host;
  int port = 0;
  bool online = true;  // not failing (CLUSTER SHARDS health; CLUSTER SLOTS lists only those it serves with)
  std::string address() const;
};

// A master of the cluster as the topology lists it, with its replicas.
struct ClusterMaster {
  std::string id;
  std::string host;
  int port = 0;
  std::vector<ClusterReplica> replicas;
  std::string address() const;
};

struct ClusterTopology {
  std::vector<ClusterMaster> masters;  // in the order of their first slot
  SlotMap slots;    // slot -> index in masters
  bool ok = false;  // cluster_state:ok on the node asked
  // "0-5460" style ranges of master `index`.
  std::string slots_of(size_t index) const { return slots.ranges_of(static_cast<int>(index)); }
};

// Whether the server runs in cluster mode (INFO cluster: cluster_enabled:1).
bool is_cluster(Connection& conn);
// Reads the topology through a node: CLUSTER SHARDS on 7.0+, else CLUSTER SLOTS; CLUSTER INFO's state.
ClusterTopology read_cluster_topology(Connection& node);

}  // namespace ferry
