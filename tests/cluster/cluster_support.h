// Shared by the cluster tests: password-protected clusters from sim::Topology, and their URIs.
#pragma once

#include "process/redis_server.h"
#include "support.h"
#include "topology/topology.h"

#include <chrono>
#include <string>
#include <thread>

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

// Compares the two sides (each a server or a cluster, its slot map read anew each time) until they
// are equal or `seconds` pass; returns the last comparison. As after a sync: consumer groups'
// entries-read is not compared (replication cannot reproduce it), expiries within the MIGRATE skew.
inline ComparisonResult wait_equal(const sim::RedisServer& source_seed, const sim::RedisServer& target_seed, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  ComparisonOptions options;
  options.group_entries_read = false;
  options.ttl_tolerance_ms = kMigrateTtlSkewMs;
  ComparisonResult r;
  do {
    ServerGroup source = group_of(source_seed);
    ServerGroup target = group_of(target_seed);
    r = compare_datasets(source, target, options);
    if (r.equal()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  } while (std::chrono::steady_clock::now() < deadline);
  return r;
}

}  // namespace ferry::test
