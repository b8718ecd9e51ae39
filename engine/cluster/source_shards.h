// A Redis Cluster as the source: its shards, and for each the node ferry reads. A shard is known by
// the ids of its nodes (a master and its replicas): a failover swaps their roles, the set stays,
// so a shard is found again after one, and a state file entry matches it after a restart.
#pragma once

#include "cluster/cluster_topology.h"
#include "redis/dialer.h"
#include "redis/endpoint.h"

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

// --source-read: which node of each shard the replication link (and a scan) reads.
enum class SourceRead {
  Master,         // the master (default)
  Replica,        // a replica whose own master link is up; waited for within the retry window
  PreferReplica,  // such a replica when there is one, else the master
};
SourceRead parse_source_read(const std::string& text);  // FerryError(Usage) for anything else
const char* source_read_name(SourceRead read);

struct SourceShard {
  size_t index = 0;                   // in the order of the first slot, at discovery
  std::vector<std::string> node_ids;  // the master's first
  std::string slots;                  // "0-5460" (at discovery; a ShardLocator keeps it current)
  std::array<bool, kClusterSlots> owns{};  // the slots it owns, likewise
  std::string master_address;         // at discovery
  // "shard 1 (slots 5461-10922)", for messages.
  std::string describe() const;
  bool has_node(const std::string& id) const;
};

// The shards of the cluster `seed` belongs to, each with slots, in the order of the first slot.
// `only`: --shards, indexes or node ids (empty: every shard); FerryError(Usage) names one that
// matches no shard.
std::vector<SourceShard> discover_source_shards(Connection& seed, const std::vector<std::string>& only = {});

// Where one shard is now: the layout read again through any node the task has seen (the seed
// first), the shard found by its node ids, the node to read picked by --source-read.
class ShardLocator {
 public:
  ShardLocator(const Dialer& dialer, Endpoint seed, SourceShard shard, SourceRead read);
  struct Nodes {
    Endpoint read;    // the replication link and INFO
    Endpoint master;  // the heartbeat's writes
    bool replica = false;
  };
  // Throws FerryError(Connection) when no node answers, the shard has no master now, or (--source-read
  // replica) none of its replicas has its master link up: a caller retries within its window.
  Nodes locate();
  const SourceShard& shard() const { return shard_; }
  // A hash tag of a slot the shard owned when last located: its heartbeat key lands on it.
  std::string heartbeat_tag() const;

 private:
  Endpoint node(const std::string& host, int port) const;
  Nodes remember(const Nodes& nodes);
  bool link_up(const Endpoint& replica) const;

  const Dialer& dialer_;
  Endpoint seed_;
  SourceShard shard_;
  SourceRead read_;
  std::vector<std::pair<std::string, int>> known_;  // every node seen, the seed first
  std::string last_read_;                           // the node read since the last locate()
  bool last_was_replica_ = false;
};

}  // namespace ferry
