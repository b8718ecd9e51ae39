#include "cluster/source_shards.h"

#include "core/error.h"
#include "core/log.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace ferry {

SourceRead parse_source_read(const std::string& text) {
  if (text == "master") return SourceRead::Master;
  if (text == "replica") return SourceRead::Replica;
  if (text == "prefer-replica") return SourceRead::PreferReplica;
  throw FerryError(ExitCode::Usage, fmt::format("--source-read '{}': expected master, replica or prefer-replica", text));
}

const char* source_read_name(SourceRead read) {
  switch (read) {
    case SourceRead::Master: return "master";
    case SourceRead::Replica: return "replica";
    case SourceRead::PreferReplica: return "prefer-replica";
  }
  return "?";
}

std::string SourceShard::describe() const { return fmt::format("shard {} (slots {})", index, slots); }

bool SourceShard::has_node(const std::string& id) const {
  return std::find(node_ids.begin(), node_ids.end(), id) != node_ids.end();
}

std::vector<SourceShard> discover_source_shards(Connection& seed, const std::vector<std::string>& only) {
  ClusterTopology t = read_cluster_topology(seed);
  std::vector<SourceShard> all;
  for (size_t i = 0; i < t.masters.size(); ++i) {
    const ClusterMaster& m = t.masters[i];
    SourceShard s;
    s.index = i;
    s.node_ids.push_back(m.id);
    for (const auto& r : m.replicas) s.node_ids.push_back(r.id);
    s.slots = t.slots_of(i);
    for (int slot = 0; slot < kClusterSlots; ++slot)
      s.owns[static_cast<size_t>(slot)] = t.slots.owner[static_cast<size_t>(slot)] == static_cast<int>(i);
    s.master_address = m.address();
    all.push_back(std::move(s));
  }
  if (!t.slots.complete())
    log::warn("{} does not serve every slot: the keys of the uncovered slots are not read", seed.describe());
  if (only.empty()) return all;
  std::vector<SourceShard> picked;
  for (const auto& want : only) {
    auto it = std::find_if(all.begin(), all.end(), [&](const SourceShard& s) {
      return std::to_string(s.index) == want || s.has_node(want) || s.master_address == want;
    });
    if (it == all.end())
      throw FerryError(ExitCode::Usage, fmt::format("--shards {}: no shard of {} is that (shards 0-{} by index, or a node id "
                                                    "or address of one)",
                                                    want, seed.describe(), all.empty() ? 0 : all.size() - 1));
    if (std::none_of(picked.begin(), picked.end(), [&](const SourceShard& s) { return s.index == it->index; }))
      picked.push_back(*it);
  }
  return picked;
}

ShardLocator::ShardLocator(const Dialer& dialer, Endpoint seed, SourceShard shard, SourceRead read)
    : dialer_(dialer), seed_(std::move(seed)), shard_(std::move(shard)), read_(read) {
  known_.emplace_back(seed_.host, seed_.port);
}

Endpoint ShardLocator::node(const std::string& host, int port) const {
  Endpoint ep = seed_;
  ep.host = host;
  ep.port = port;
  ep.db.reset();
  return ep;
}

bool ShardLocator::link_up(const Endpoint& replica) const {
  try {
    auto conn = dialer_.connect(replica);
    return conn->info("replication")["master_link_status"] == "up";
  } catch (const FerryError&) {
    return false;
  }
}

std::string ShardLocator::heartbeat_tag() const {
  for (int slot = 0; slot < kClusterSlots; ++slot)
    if (shard_.owns[static_cast<size_t>(slot)]) return tag_for_slot(slot);
  return {};
}

ShardLocator::Nodes ShardLocator::locate() {
  // The replica read until now was promoted: it holds the stream ferry followed (a promoted
  // replica accepts PSYNC of its old master's history, the sooner the better), and its old
  // master, demoted, may not. Asked first, as the cluster's layout may not show it yet; read as
  // master until the next reconnection.
  if (last_was_replica_) {
    const auto colon = last_read_.rfind(':');
    Endpoint last = node(last_read_.substr(0, colon), std::atoi(last_read_.c_str() + colon + 1));
    try {
      if (dialer_.connect(last)->info("replication")["role"] == "master") {
        log::info("source {}: the replica it read, {}, is its master now: read there, to continue its stream",
                  shard_.describe(), last_read_);
        return remember({last, last, false});
      }
    } catch (const FerryError&) {
    }
  }
  std::optional<ClusterTopology> layout;
  std::string last_error;
  for (const auto& [host, port] : known_) {
    try {
      auto conn = dialer_.connect(node(host, port));
      layout = read_cluster_topology(*conn);
      break;
    } catch (const FerryError& e) {
      last_error = e.what();
    }
  }
  if (!layout)
    throw FerryError(ExitCode::Connection, fmt::format("no node of the source cluster answers ({})", last_error));
  for (const auto& m : layout->masters) {
    auto seen = [&](const std::string& h, int p) {
      if (std::find(known_.begin(), known_.end(), std::make_pair(h, p)) == known_.end()) known_.emplace_back(h, p);
    };
    seen(m.host, m.port);
    for (const auto& r : m.replicas) seen(r.host, r.port);
  }
  const ClusterMaster* master = nullptr;
  for (const auto& m : layout->masters) {
    bool ours = shard_.has_node(m.id);
    for (const auto& r : m.replicas) ours = ours || shard_.has_node(r.id);
    if (ours) master = &m;
  }
  if (!master)
    throw FerryError(ExitCode::Connection,
                     fmt::format("source {}: none of its nodes is a master with slots now", shard_.describe()));
  // Its slots as they are now (a reshard moves some), and a replica added since discovery.
  const int index = static_cast<int>(master - layout->masters.data());
  for (int slot = 0; slot < kClusterSlots; ++slot)
    shard_.owns[static_cast<size_t>(slot)] = layout->slots.owner[static_cast<size_t>(slot)] == index;
  shard_.slots = layout->slots_of(static_cast<size_t>(index));
  if (!shard_.has_node(master->id)) shard_.node_ids.push_back(master->id);
  for (const auto& r : master->replicas)
    if (!r.id.empty() && !shard_.has_node(r.id)) shard_.node_ids.push_back(r.id);
  Nodes out{node(master->host, master->port), node(master->host, master->port), false};
  if (read_ == SourceRead::Master) return remember(out);
  for (const auto& r : master->replicas) {
    if (!r.online) continue;
    Endpoint ep = node(r.host, r.port);
    if (!link_up(ep)) continue;
    out.read = ep;
    out.replica = true;
    return remember(out);
  }
  // The node read until now is this master (a replica ferry read was promoted, and its promotion
  // dropped ferry's link): no replica is ready yet (the demoted master is still syncing), and
  // another node would mean a full resync. Go on with it: a partial resync; a replica is read again
  // at the next reconnection that finds one ready.
  if (read_ == SourceRead::Replica && last_read_ == out.read.address()) {
    log::info("source {}: no replica of master {} has its master link up yet: going on reading it (it is the node read "
              "until now: a partial resync, where another node would need a full one)",
              shard_.describe(), master->address());
    return remember(out);
  }
  if (read_ == SourceRead::Replica)
    throw FerryError(ExitCode::Connection,
                     fmt::format("source {}: no replica of master {} has its master link up (--source-read replica)",
                                 shard_.describe(), master->address()));
  return remember(out);
}

ShardLocator::Nodes ShardLocator::remember(const Nodes& nodes) {
  last_read_ = nodes.read.address();
  last_was_replica_ = nodes.replica;
  return nodes;
}

}  // namespace ferry
