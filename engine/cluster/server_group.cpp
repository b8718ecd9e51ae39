#include "cluster/server_group.h"

#include <fmt/format.h>

namespace ferry {

ServerGroup::ServerGroup(std::unique_ptr<Connection> seed, const Timeouts& timeouts) : seed_(seed->endpoint()) {
  if (!is_cluster(*seed)) {
    nodes_.push_back(std::move(seed));
    return;
  }
  topology_ = read_cluster_topology(*seed);
  for (const auto& m : topology_->masters) {
    if (seed && seed->endpoint().host == m.host && seed->endpoint().port == m.port) {
      nodes_.push_back(std::move(seed));
      continue;
    }
    Endpoint ep = seed_;
    ep.host = m.host;
    ep.port = m.port;
    ep.db.reset();
    try {
      nodes_.push_back(Connection::open(ep, timeouts));
    } catch (const FerryError& e) {
      throw FerryError(e.code(), fmt::format("master {} of the cluster {} belongs to: {}", m.address(), seed_.describe(), e.what()));
    }
  }
}

size_t ServerGroup::node_of(std::string_view key) const {
  if (!topology_) return 0;
  const int slot = key_slot(key);
  const int owner = topology_->slots.owner[static_cast<size_t>(slot)];
  if (owner < 0) throw FerryError(ExitCode::Failed, fmt::format("no master of {} serves slot {}", describe(), slot));
  return static_cast<size_t>(owner);
}

void ServerGroup::select(int db) {
  for (auto& n : nodes_) n->select(db);
}

std::string ServerGroup::describe() const {
  if (!topology_) return seed_.describe();
  return fmt::format("{} cluster {} ({} masters)", seed_.role, seed_.address(), topology_->masters.size());
}

std::string ServerGroup::describe_node(size_t i) const {
  if (!topology_) return seed_.describe();
  return fmt::format("{} shard {} (slots {})", seed_.role, topology_->masters.at(i).address(), topology_->slots_of(i));
}

}  // namespace ferry
