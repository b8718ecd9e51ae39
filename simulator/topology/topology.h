// Server topologies for the simulator, on top of the RedisServer fixture: a standalone server, a
// master with replicas (each linked with REPLICAOF and waited for until its link is up), or a
// Redis Cluster of N masters with R replicas each (CLUSTER MEET, slots assigned as redis-cli
// assigns them, CLUSTER REPLICATE, waited for until every node agrees and reports cluster_state:ok).
// Built as a list of shards (a master and its replicas). A cluster also serves the scenario
// timeline: failover, reshard and per-shard maxmemory, each waited for until the whole cluster
// agrees. Every server dies with its Topology (destructor, PDEATHSIG) and keeps its directory and
// log while it lives (FERRY_KEEP_SERVER_DIRS=1 keeps them afterwards).
#pragma once

#include "process/redis_server.h"
#include "redis/connection.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::sim {

// The binary of a server version fetched by tools/fetch-servers ("redis-6.0", "redis-8.0",
// "valkey-8.0", "valkey-8.1"), or "system" / "" for redis-server from PATH. nullopt when absent.
std::optional<std::string> server_binary(const std::string& version);

// The first replica of `master` as its INFO replication reports it: whether it is online (the
// snapshot sent), and the offset it acknowledged (-1 without a replica).
bool replica_online(Connection& master);
long long replica_offset(Connection& master);

// A master and its replicas. In a cluster, `master` is whichever node of the shard the cluster
// says is master now (the Topology swaps the pointers when it sees a failover).
struct Shard {
  std::unique_ptr<RedisServer> master;
  std::vector<std::unique_ptr<RedisServer>> replicas;
};

struct TopologySpec {
  RedisServerOptions master;        // options of the master (in a cluster: of every master)
  int replicas = 0;                 // replicas per master
  RedisServerOptions replica;       // their options (binary defaults to the master's)
  double link_timeout_seconds = 30; // how long a replica may take to come up (a cluster: any wait)
  // Redis Cluster: 0 is no cluster (one master and `replicas`); N starts N masters and N*replicas
  // replicas with cluster-enabled, their ports chosen so that port+10000 (the bus) is free too
  // (master.port is ignored). requirepass and masterauth apply to every node.
  int cluster_masters = 0;
  int cluster_node_timeout_ms = 2000;  // cluster-node-timeout: failure detection, election delays
  bool cluster_require_full_coverage = true;
};

// What Topology::reshard moved.
struct ReshardResult {
  int slots = 0;       // slots moved
  std::string ranges;  // "0-499" style
  long long keys = 0;  // keys MIGRATEd
  double seconds = 0;  // until every node agreed on the new owner
};

class Topology {
 public:
  // Starts every server; throws std::runtime_error naming the server that did not come up, or (a
  // cluster) the node that did not join, link or report ok in time, with its log tail (the ones
  // already started are stopped).
  explicit Topology(TopologySpec spec);
  ~Topology();
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  // The shard's master: in a cluster the node that says it is master now (after a failover, the
  // promoted replica; the old master is then one of replica(i, shard)).
  RedisServer& master(size_t shard = 0);
  RedisServer& replica(size_t i, size_t shard = 0);
  size_t replica_count(size_t shard = 0) const { return shards_.at(shard).replicas.size(); }
  // Every server, each shard's master first.
  std::vector<RedisServer*> servers();
  // A JSON array, one object per server: shard, role, URI, PID, version, directory; in a cluster
  // also its node id and its shard's slot ranges (read live). Never credentials.
  std::string describe() const;
  void stop();

  // --- Redis Cluster (the scenario timeline). Each throws std::runtime_error on a standalone
  // topology, on a bad shard index, and when the cluster does not settle in time.
  bool is_cluster() const { return cluster_; }
  // Shards: masters in a cluster, 1 otherwise.
  size_t shard_count() const { return shards_.size(); }
  // The shard's slot ranges as the cluster reports them now: "0-5460", "0-99,5461-10922"; "" when
  // it owns none.
  std::string slots_of(size_t shard);
  // The shard whose master owns the key's slot now (CRC16 of the hash tag, mod 16384).
  size_t shard_of_key(std::string_view key);
  // CLUSTER FAILOVER on the shard's first running replica (graceful: it catches up first, nothing
  // lost); returns once it is master for every node (CLUSTER NODES and CLUSTER SLOTS), every node
  // reports cluster_state:ok and the old master replicates from it with its link up. Throws when
  // the shard has no running replica, or no running master (a cluster fails a dead master over by
  // itself after cluster-node-timeout, and master() follows that).
  void failover(size_t shard);
  // Moves the `slots` lowest slots `from_shard` owns to `to_shard` as `redis-cli --cluster
  // reshard` does, slot by slot: SETSLOT IMPORTING on the destination, MIGRATING on the source,
  // GETKEYSINSLOT + MIGRATE (no REPLACE: a key the destination already holds is an error) until
  // the slot is empty, then SETSLOT NODE on the destination, the source and every other master.
  // Safe while clients write (they get ASK for keys already moved). Returns once every node agrees.
  ReshardResult reshard(size_t from_shard, size_t to_shard, int slots);
  // CONFIG SET maxmemory (e.g. "64mb") and, when not empty, maxmemory-policy on the shard's master.
  void set_shard_maxmemory(size_t shard, const std::string& bytes, const std::string& policy);

 private:
  struct Node;         // a node's line of CLUSTER NODES
  struct ClusterView;  // CLUSTER NODES as one node sees it
  struct Pending;      // why a wait is not over yet, and which node to show the log of
  void start_replicated(const TopologySpec& spec);
  void start_cluster(const TopologySpec& spec);
  // Node ids, config epochs, slots, CLUSTER MEET, CLUSTER REPLICATE, and the waits in between.
  void form_cluster();
  // One slot of a reshard, from SETSLOT IMPORTING to SETSLOT NODE; returns the keys MIGRATEd.
  long long move_slot(int slot, const RedisServer& source, const RedisServer& dest);
  // Connections to the servers, kept (a cache: opened again when the link broke). Not
  // thread-safe: one thread drives a Topology.
  Connection& conn(const RedisServer& server) const;
  Reply ask(const RedisServer& server, const std::vector<std::string>& args) const;
  // ask(), an error reply thrown as std::runtime_error naming the node and `doing`.
  Reply must(const RedisServer& server, const std::vector<std::string>& args, const std::string& doing) const;
  const std::string& node_id(const RedisServer& server) const;
  const RedisServer* node_with_id(const std::string& id) const;
  bool in_shard(size_t shard, const std::string& id) const;
  // Every node, each shard's master first, as last seen (no failover followed).
  std::vector<const RedisServer*> nodes() const;
  ClusterView view_of(const RedisServer& server) const;
  // The view of the first node that answers, the shard's master first.
  ClusterView any_view(size_t shard) const;
  // The slot ranges of the shard's master (whichever node of the shard is master) in `view`.
  std::string shard_ranges(const ClusterView& view, size_t shard) const;
  // Swaps the shard's master with the replica the cluster promoted, if any.
  void follow_failover(size_t shard);
  void require_cluster(size_t shard, const char* what) const;
  // Polls until `check` finds nothing pending; throws naming `what`, the node and its log tail.
  template <class Check>
  void wait_until(const std::string& what, Check check) const;
  // `server` knows every node and doubts none that runs (handshake, fail?, fail).
  std::optional<Pending> knows_everyone(const RedisServer& server, const ClusterView& view) const;
  // Every running node knows everyone, all see the same roles, masters and slots, and each
  // reports cluster_state:ok.
  std::optional<Pending> agreement() const;

  std::vector<Shard> shards_;
  bool cluster_ = false;
  double timeout_seconds_ = 30;
  std::map<const RedisServer*, std::string> node_ids_;
  mutable std::map<const RedisServer*, std::unique_ptr<Connection>> conns_;
};

}  // namespace ferry::sim
