// A Redis Cluster as the target, behind the same Target interface as one server: one pipelined
// connection per master, each (db 0, key) routed by its slot (CRC16 of its hash tag). The topology
// comes from CLUSTER SHARDS (7.0+; CLUSTER SLOTS before) and is followed as it changes:
//   - MOVED: the slot's new owner is recorded, the command goes there, and every command still in
//     flight to the old owner is read before anything else is sent, so that what it redirects in
//     turn follows: a command for a key is never applied before an earlier one for the same key;
//   - ASK (a slot being migrated): ASKING and the command go to the named node, in the same order;
//   - TRYAGAIN (a multi-key command while its slot migrates), CLUSTERDOWN (a failover under way):
//     the command is sent again after a pause, to whoever owns the slot then, within --retry-other;
//   - the map is read again after a redirection and every few seconds, once nothing is in flight.
// A transaction is redirected whole (the pipeline hands MULTI ... EXEC over as one unit).
//
// A redirected reply is only queued while a pipeline reads it; the queue is worked off at the next
// call into the target (never from inside a reply handler), so redirections do not nest.
#pragma once

#include "cluster/cluster_topology.h"
#include "target/target.h"

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace ferry {

// The error replies of a cluster that mean "not here, not now": MOVED, ASK, TRYAGAIN, CLUSTERDOWN.
bool is_cluster_redirect(const Reply& reply);

class ClusterTarget : public Target {
 public:
  // `seed`: a connection to any node. `retry`: how long TRYAGAIN and CLUSTERDOWN are waited out.
  ClusterTarget(const Dialer& dialer, std::unique_ptr<Connection> seed, PipelineLimits limits, std::chrono::seconds retry);
  ~ClusterTarget() override;

  Pipeline& pipeline_for(int db, std::string_view key) override;
  std::vector<Pipeline*> every_pipeline(int db) override;
  void forget_selected_db(Pipeline&) override {}
  void push() override;
  void drain() override;
  void discard() override;
  Connection& request_connection() override;
  std::vector<Connection*> masters() override;
  void reconnect(const Dialer& dialer) override;
  const TargetFacts& facts() const override { return facts_; }
  std::string describe() const override;
  std::string describe_for(std::string_view key) override;
  std::string identity() override;
  void count_routing(MigrationReport& report) const override;

  const ClusterTopology& topology() const { return topology_; }
  // How many redirections were followed (MOVED, ASK, TRYAGAIN/CLUSTERDOWN retries).
  struct Counts {
    uint64_t moved = 0, ask = 0, retried = 0, refreshes = 0;
  };
  const Counts& counts() const { return counts_; }

 private:
  struct Node {
    ClusterMaster master;
    std::unique_ptr<Connection> conn;
    std::unique_ptr<Pipeline> pipe;
  };
  struct Redirected {
    Node* from;
    std::vector<Pipeline::Sent> commands;
    Reply reply;
  };

  Node& node_for(const std::string& address);
  Node& owner(int slot);
  void check_db(int db) const;
  // Works off the redirected commands (not while already doing so).
  void settle();
  void follow(Redirected r);
  void wait_out(Redirected r);
  // Reads every reply and follows every redirection until nothing is in flight.
  void quiesce();
  // Reads the topology again (after quiesce) and connects to masters it did not know.
  // Reads the map again, after what is in flight has landed (refresh), or as it is (read_map:
  // from inside a redirection, where everything in flight is being followed).
  void refresh();
  void read_map();
  void maybe_refresh();
  int master_index(const std::string& address);

  const Dialer& dialer_;
  Endpoint seed_endpoint_;
  PipelineLimits limits_;
  std::chrono::seconds retry_;
  std::vector<std::unique_ptr<Node>> nodes_;  // every node connected to, masters or former masters
  ClusterTopology topology_;
  std::vector<Node*> owner_of_master_;  // topology_.masters[i] -> its node
  TargetFacts facts_;
  std::chrono::steady_clock::time_point refreshed_at_;
  bool refresh_due_ = false;
  std::deque<Redirected> redirected_;
  bool settling_ = false;
  Counts counts_;
};

}  // namespace ferry
