// Server topologies for the simulator, on top of the RedisServer fixture: a standalone server, or
// a master with replicas (each linked with REPLICAOF and waited for until its link is up). Built as
// a list of shards (a master and its replicas), so a Redis Cluster topology is more shards plus
// CLUSTER MEET and slot assignment. Every server dies with its Topology (destructor, PDEATHSIG) and
// keeps its directory and log while it lives (FERRY_KEEP_SERVER_DIRS=1 keeps them afterwards).
#pragma once

#include "process/redis_server.h"
#include "redis/connection.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ferry::sim {

// The binary of a server version fetched by tools/fetch-servers ("redis-6.0", "redis-8.0",
// "valkey-8.0", "valkey-8.1"), or "system" / "" for redis-server from PATH. nullopt when absent.
std::optional<std::string> server_binary(const std::string& version);

// The first replica of `master` as its INFO replication reports it: whether it is online (the
// snapshot sent), and the offset it acknowledged (-1 without a replica).
bool replica_online(Connection& master);
long long replica_offset(Connection& master);

struct Shard {
  std::unique_ptr<RedisServer> master;
  std::vector<std::unique_ptr<RedisServer>> replicas;
};

struct TopologySpec {
  RedisServerOptions master;        // options of the (first) master
  int replicas = 0;                 // replicas per master
  RedisServerOptions replica;       // their options (binary defaults to the master's)
  double link_timeout_seconds = 30; // how long a replica may take to come up
};

class Topology {
 public:
  // Starts every server; throws std::runtime_error naming the server that did not come up (the
  // ones already started are stopped).
  explicit Topology(TopologySpec spec);
  ~Topology();
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  RedisServer& master(size_t shard = 0) { return *shards_.at(shard).master; }
  RedisServer& replica(size_t i, size_t shard = 0) { return *shards_.at(shard).replicas.at(i); }
  size_t replica_count(size_t shard = 0) const { return shards_.at(shard).replicas.size(); }
  std::vector<RedisServer*> servers();
  // A JSON description: each server's role, URI, PID, version and directory.
  std::string describe() const;
  void stop();

 private:
  std::vector<Shard> shards_;
};

}  // namespace ferry::sim
