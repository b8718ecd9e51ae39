#include "target/cluster_target.h"

#include "core/log.h"
#include "redis/command_keys.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

namespace ferry {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kRefreshEvery = std::chrono::seconds(5);

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

// "MOVED 3999 127.0.0.1:6381" -> slot and address.
bool parse_redirect(const std::string& error, int& slot, std::string& address) {
  const bool ask = starts_with(error, "ASK ");
  if (!ask && !starts_with(error, "MOVED ")) return false;
  const std::string rest = error.substr(ask ? 4 : 6);
  const auto space = rest.find(' ');
  if (space == std::string::npos) return false;
  slot = std::atoi(rest.c_str());
  address = rest.substr(space + 1);
  return slot >= 0 && slot < kClusterSlots && address.find(':') != std::string::npos;
}

// The slot a group of commands is for: the first key's.
int slot_of(const std::vector<Pipeline::Sent>& commands) {
  for (const auto& c : commands) {
    if (c.args.empty()) continue;
    CommandKeys keys = command_keys(ascii_upper(c.args[0]), c.args);
    if (!keys.written.empty()) return key_slot(c.args[keys.written.front()]);
    if (!keys.read.empty()) return key_slot(c.args[keys.read.front()]);
  }
  return 0;
}

}  // namespace

bool is_cluster_redirect(const Reply& reply) {
  if (!reply.is_error()) return false;
  const std::string& e = reply.str;
  return starts_with(e, "MOVED ") || starts_with(e, "ASK ") || starts_with(e, "TRYAGAIN") || starts_with(e, "CLUSTERDOWN");
}

ClusterTarget::ClusterTarget(const Dialer& dialer, std::unique_ptr<Connection> seed, PipelineLimits limits,
                             std::chrono::seconds retry)
    : dialer_(dialer), seed_endpoint_(seed->endpoint()), limits_(limits), retry_(retry) {
  seed_endpoint_.db.reset();
  facts_ = TargetFacts::of(*seed);
  facts_.cluster = true;
  auto first = std::make_unique<Node>();
  first->master.host = seed_endpoint_.host;
  first->master.port = seed_endpoint_.port;
  first->conn = std::move(seed);
  nodes_.push_back(std::move(first));
  refresh();
}

ClusterTarget::~ClusterTarget() {
  for (auto& n : nodes_) n->pipe.reset();  // reads what is in flight before the connections go
}

void ClusterTarget::check_db(int db) const {
  if (db != 0)
    throw FerryError(ExitCode::Failed, fmt::format("{} has DB 0 only: a write for DB {} cannot go there (map the DB with "
                                                   "--db-map {}:0)",
                                                   describe(), db, db));
}

ClusterTarget::Node& ClusterTarget::node_for(const std::string& address) {
  for (auto& n : nodes_)
    if (n->master.address() == address && n->conn) {
      if (!n->pipe) {
        n->pipe = std::make_unique<Pipeline>(*n->conn, limits_);
        Node* self = n.get();
        n->pipe->set_redirect(is_cluster_redirect, [this, self](std::vector<Pipeline::Sent>&& commands, Reply&& reply) {
          redirected_.push_back({self, std::move(commands), std::move(reply)});
        });
      }
      return *n;
    }
  const auto colon = address.rfind(':');
  Endpoint ep = seed_endpoint_;
  ep.host = address.substr(0, colon);
  ep.port = std::atoi(address.c_str() + colon + 1);
  auto n = std::make_unique<Node>();
  n->master.host = ep.host;
  n->master.port = ep.port;
  try {
    n->conn = dialer_.connect(ep, "target");
  } catch (const FerryError& e) {
    throw LinkError("target", fmt::format("{}: node {} of the cluster: {}", describe(), address, e.what()));
  }
  nodes_.push_back(std::move(n));
  return node_for(address);
}

int ClusterTarget::master_index(const std::string& address) {
  for (size_t i = 0; i < topology_.masters.size(); ++i)
    if (topology_.masters[i].address() == address) return static_cast<int>(i);
  Node& n = node_for(address);
  topology_.masters.push_back(n.master);
  owner_of_master_.push_back(&n);
  return static_cast<int>(topology_.masters.size() - 1);
}

void ClusterTarget::quiesce() {
  for (bool busy = true; busy;) {
    settle();
    busy = false;
    for (size_t i = 0; i < nodes_.size(); ++i)  // by index: following a redirection may connect to a new node
      if (nodes_[i]->pipe && nodes_[i]->pipe->in_flight()) {
        nodes_[i]->pipe->drain();
        busy = true;
      }
    busy = busy || !redirected_.empty();
  }
}

void ClusterTarget::refresh() {
  if (settling_) {  // from inside a redirection: later, at the top
    refresh_due_ = true;
    return;
  }
  // Commands in flight go by the old map: their redirections are followed first, so nothing sent
  // by the new one overtakes them.
  quiesce();
  read_map();
  refreshed_at_ = Clock::now();
  refresh_due_ = false;
}

namespace {
int uncovered_slots(const ClusterTopology& t) {
  int n = 0;
  for (int owner : t.slots.owner) n += owner < 0;
  return n;
}
}  // namespace

void ClusterTarget::read_map() {
  // Any node that answers, the masters we know first. While a failover or a reshard settles, nodes
  // see it at different moments: a map with every slot served beats one with holes.
  ClusterTopology best;
  int best_holes = kClusterSlots + 1;
  std::string why;
  for (size_t i = 0; i < nodes_.size() && best_holes > 0; ++i) {  // by index: node_for may add nodes
    Node& n = *nodes_[i];
    if (!n.conn) continue;
    try {
      ClusterTopology t = read_cluster_topology(*n.conn);
      const int holes = uncovered_slots(t);
      if (!t.masters.empty() && holes < best_holes) {
        best = std::move(t);
        best_holes = holes;
      }
    } catch (const FerryError& e) {
      why = fmt::format("{}: {}", n.master.address(), e.what());
    }
  }
  if (best.masters.empty())
    throw LinkError("target", fmt::format("no node of the target cluster {} answers with its topology{}", seed_endpoint_.address(),
                                          why.empty() ? "" : " (" + why + ")"));
  topology_ = std::move(best);
  owner_of_master_.clear();
  for (const auto& m : topology_.masters) {
    Node& n = node_for(m.address());
    n.master.id = m.id;
    owner_of_master_.push_back(&n);
  }
  ++counts_.refreshes;
}

void ClusterTarget::maybe_refresh() {
  if (!redirected_.empty()) settle();
  if (refresh_due_ || Clock::now() - refreshed_at_ > kRefreshEvery) refresh();
}

ClusterTarget::Node& ClusterTarget::owner(int slot) {
  int index = topology_.slots.owner[static_cast<size_t>(slot)];
  if (index >= 0) return *owner_of_master_[static_cast<size_t>(index)];
  // A hole in the map: read while a failover or a reshard settled. Read again until a master
  // serves the slot, within --retry-other.
  const auto deadline = Clock::now() + retry_;
  auto pause = std::chrono::milliseconds(50);
  for (;;) {
    if (settling_) read_map();  // everything in flight is being followed already
    else refresh();
    index = topology_.slots.owner[static_cast<size_t>(slot)];
    if (index >= 0) return *owner_of_master_[static_cast<size_t>(index)];
    ++counts_.retried;
    if (Clock::now() + pause > deadline)
      throw FerryError(ExitCode::Failed, fmt::format("no master of {} has served slot {} for {} s (--retry-other): is the "
                                                     "cluster's state ok?",
                                                     describe(), slot, retry_.count()));
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
  }
}

Pipeline& ClusterTarget::pipeline_for(int db, std::string_view key) {
  check_db(db);
  maybe_refresh();
  return *owner(key_slot(key)).pipe;
}

std::vector<Pipeline*> ClusterTarget::every_pipeline(int db) {
  check_db(db);
  // A command for every master (FLUSHALL) goes after everything sent before has landed: a write
  // redirected to a master after it would survive it.
  quiesce();
  maybe_refresh();
  std::vector<Pipeline*> out;
  for (Node* n : owner_of_master_)
    if (std::find(out.begin(), out.end(), n->pipe.get()) == out.end()) out.push_back(n->pipe.get());
  return out;
}

void ClusterTarget::settle() {
  if (settling_) return;
  settling_ = true;
  try {
    while (!redirected_.empty()) {
      Redirected r = std::move(redirected_.front());
      redirected_.pop_front();
      follow(std::move(r));
    }
  } catch (...) {
    settling_ = false;
    redirected_.clear();
    throw;
  }
  settling_ = false;
}

// A command (or a transaction) a node said is not its own goes where the cluster says, before
// anything sent after it to the same node.
void ClusterTarget::follow(Redirected r) {
  const std::string& e = r.reply.str;
  int slot = 0;
  std::string address;
  if (!parse_redirect(e, slot, address)) return wait_out(std::move(r));
  const bool ask = starts_with(e, "ASK ");
  Node& to = node_for(address);
  if (ask) {
    ++counts_.ask;
  } else {
    ++counts_.moved;
    log::debug("slot {} moved from {} to {}", slot, r.from->master.address(), address);
    topology_.slots.owner[static_cast<size_t>(slot)] = master_index(address);
    refresh_due_ = true;
  }
  if (ask) to.pipe->send({"ASKING"}, [](Reply&&) {});
  for (auto& c : r.commands) to.pipe->send(c.args, std::move(c.handler));
  // What followed it to the old owner is read now: redirected in its turn, it lands after it (an
  // ASK'd slot sends the rest of its keys' commands the same way, in order).
  if (!ask && r.from != &to && r.from->pipe) r.from->pipe->drain();
}

// TRYAGAIN or CLUSTERDOWN: sent again, alone, after a pause, until the cluster takes it.
void ClusterTarget::wait_out(Redirected r) {
  const auto deadline = Clock::now() + retry_;
  auto pause = std::chrono::milliseconds(50);
  const std::string first = r.reply.str.substr(0, r.reply.str.find(' '));
  for (;;) {
    ++counts_.retried;
    if (Clock::now() + pause > deadline)
      throw FerryError(ExitCode::Failed,
                       fmt::format("{} still answers {} for slot {} after {} s (--retry-other): {}", describe(), first,
                                   slot_of(r.commands), retry_.count(), r.reply.str));
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
    // Every pipeline is read first, so the node's connection can be used alone.
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i]->pipe) nodes_[i]->pipe->drain();  // redirections they hold queue behind this one
    read_map();
    Node& to = owner(slot_of(r.commands));
    for (const auto& c : r.commands) to.conn->append(c.args);
    std::vector<Reply> replies;
    for (size_t i = 0; i < r.commands.size(); ++i) replies.push_back(to.conn->read_reply());
    const Reply* redirected = nullptr;
    for (const auto& reply : replies)
      if (is_cluster_redirect(reply)) {
        redirected = &reply;
        break;
      }
    if (!redirected) {
      for (size_t i = 0; i < replies.size(); ++i)
        if (r.commands[i].handler) r.commands[i].handler(std::move(replies[i]));
        else if (replies[i].is_error())
          throw CommandError(classify_error(replies[i].str),
                             fmt::format("command on {} failed: {}", to.conn->describe(), replies[i].str));
      return;
    }
    r.reply = *redirected;
    r.from = &to;
    if (starts_with(r.reply.str, "MOVED ") || starts_with(r.reply.str, "ASK ")) return follow(std::move(r));
  }
}

void ClusterTarget::push() {
  settle();
  for (auto& n : nodes_)
    if (n->pipe) n->pipe->push();
}

void ClusterTarget::drain() { quiesce(); }

void ClusterTarget::discard() {
  redirected_.clear();
  for (auto& n : nodes_)
    if (n->pipe) n->pipe->discard();
  redirected_.clear();
}

Connection& ClusterTarget::request_connection() {
  quiesce();
  maybe_refresh();
  return *owner_of_master_.front()->conn;
}

std::vector<Connection*> ClusterTarget::masters() {
  quiesce();
  maybe_refresh();
  std::vector<Connection*> out;
  for (Node* n : owner_of_master_)
    if (std::find(out.begin(), out.end(), n->conn.get()) == out.end()) out.push_back(n->conn.get());
  return out;
}

void ClusterTarget::reconnect(const Dialer& dialer) {
  redirected_.clear();
  for (auto& n : nodes_) {
    if (n->pipe) n->pipe->abandon();
    n->pipe.reset();
    n->conn.reset();
  }
  std::string why;
  std::vector<ClusterMaster> known;
  known.push_back({"", seed_endpoint_.host, seed_endpoint_.port, {}});
  for (const auto& n : nodes_) known.push_back(n->master);
  nodes_.clear();
  owner_of_master_.clear();
  for (const auto& m : known) {  // the seed, and every node known before
    if (std::any_of(nodes_.begin(), nodes_.end(), [&](const auto& n) { return n->master.address() == m.address(); })) continue;
    Endpoint ep = seed_endpoint_;
    ep.host = m.host;
    ep.port = m.port;
    try {
      auto n = std::make_unique<Node>();
      n->master = m;
      n->conn = dialer.connect(ep, "target");
      nodes_.push_back(std::move(n));
    } catch (const FerryError& e) {
      why = e.what();
    }
  }
  if (nodes_.empty())
    throw FerryError(ExitCode::Connection, fmt::format("no node of the target cluster {} answers: {}", seed_endpoint_.address(), why));
  refresh();
}

std::string ClusterTarget::describe() const {
  return fmt::format("target cluster {} ({} masters)", seed_endpoint_.address(), topology_.masters.size());
}

std::string ClusterTarget::describe_for(std::string_view key) {
  const int index = topology_.slots.owner[static_cast<size_t>(key_slot(key))];
  if (index < 0) return describe();
  return fmt::format("target shard {} (slots {})", topology_.masters[static_cast<size_t>(index)].address(),
                     topology_.slots_of(static_cast<size_t>(index)));
}

std::string ClusterTarget::identity() {
  std::vector<std::string> ids;
  for (Connection* c : masters()) ids.push_back(c->info("server")["run_id"]);
  std::sort(ids.begin(), ids.end());
  std::string out = "cluster";
  for (const auto& id : ids) out += ":" + id;
  return out;
}

void ClusterTarget::count_routing(MigrationReport& report) const {
  report.routing.cluster = true;
  report.routing.moved = counts_.moved;
  report.routing.ask = counts_.ask;
  report.routing.retried = counts_.retried;
  report.routing.refreshes = counts_.refreshes;
}

}  // namespace ferry
