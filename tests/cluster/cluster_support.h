// Shared by the cluster tests: password-protected clusters from sim::Topology, and their URIs.
#pragma once

#include "process/redis_server.h"
#include "topology/topology.h"

#include <string>

namespace ferry::test {

inline const char* kClusterPassword = "cluster-secret";

// MASTERS masters with REPLICAS replicas each, every node with a password, failures detected in 1 s.
inline sim::TopologySpec cluster_spec(int masters, int replicas) {
  sim::TopologySpec spec;
  spec.master.requirepass = kClusterPassword;
  spec.cluster_masters = masters;
  spec.replicas = replicas;
  spec.cluster_node_timeout_ms = 1000;
  return spec;
}

// A cluster node's URI, with the password (it must not show in any output).
inline std::string uri(const sim::RedisServer& node) { return node.uri("", kClusterPassword); }

// A reshard MIGRATEs keys with their time to live, not their expiry time: the new owner sets the
// expiry from its own clock a moment later (redis/src/cluster.c, migrateCommand), a millisecond or
// so off. The cluster does that, not the copy.
constexpr long long kMigrateTtlSkewMs = 10;

}  // namespace ferry::test
