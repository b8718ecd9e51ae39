#include "topology/topology.h"

#include "redis/connection.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace ferry::sim {

std::optional<std::string> server_binary(const std::string& version) {
  if (version.empty() || version == "system") return std::string();
  const char* cache = std::getenv("FERRY_SERVER_CACHE");
  const char* home = std::getenv("HOME");
  std::string dir = cache && *cache ? cache : std::string(home ? home : "/root") + "/.cache/ferry/servers";
  std::string path = dir + "/" + version;
  if (::access(path.c_str(), X_OK) != 0) return std::nullopt;
  return path;
}

Topology::Topology(TopologySpec spec) {
  Shard shard;
  shard.master = std::make_unique<RedisServer>(spec.master);
  RedisServerOptions replica_options = spec.replica;
  if (replica_options.binary.empty()) {
    replica_options.binary = spec.master.binary;
    replica_options.launcher = spec.master.launcher;
  }
  // A replica must authenticate to a master with requirepass.
  if (spec.master.requirepass) replica_options.config.emplace_back("masterauth", *spec.master.requirepass);
  for (int i = 0; i < spec.replicas; ++i) {
    auto replica = std::make_unique<RedisServer>(replica_options);
    auto conn = Connection::open(replica->endpoint("replica"));
    conn->checked({"REPLICAOF", "127.0.0.1", std::to_string(shard.master->port())});
    auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(spec.link_timeout_seconds);
    while (conn->info("replication")["master_link_status"] != "up") {
      if (std::chrono::steady_clock::now() > until)
        throw std::runtime_error(fmt::format("replica 127.0.0.1:{} did not link to its master 127.0.0.1:{} within {} s; "
                                             "its log ends:\n{}",
                                             replica->port(), shard.master->port(), spec.link_timeout_seconds,
                                             replica->log_tail()));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    shard.replicas.push_back(std::move(replica));
  }
  shards_.push_back(std::move(shard));
}

Topology::~Topology() { stop(); }

std::vector<RedisServer*> Topology::servers() {
  std::vector<RedisServer*> out;
  for (auto& s : shards_) {
    out.push_back(s.master.get());
    for (auto& r : s.replicas) out.push_back(r.get());
  }
  return out;
}

std::string Topology::describe() const {
  nlohmann::json j = nlohmann::json::array();
  for (size_t i = 0; i < shards_.size(); ++i) {
    auto node = [&](const RedisServer& s, const char* role) {
      return nlohmann::json{{"shard", i},       {"role", role},       {"uri", s.uri()},
                            {"pid", s.pid()},   {"version", s.version()}, {"dir", s.dir()}};
    };
    j.push_back(node(*shards_[i].master, "master"));
    for (const auto& r : shards_[i].replicas) j.push_back(node(*r, "replica"));
  }
  return j.dump(2);
}

void Topology::stop() {
  for (auto& s : shards_) {
    for (auto& r : s.replicas) r->stop();
    s.master->stop();
  }
}

// The acknowledged offset of the first replica ("slave0:ip=...,offset=N,..."), or -1.
long long replica_offset(Connection& master) {
  auto info = master.info("replication");
  auto it = info.find("slave0");
  if (it == info.end()) return -1;
  auto pos = it->second.find("offset=");
  return pos == std::string::npos ? -1 : std::atoll(it->second.c_str() + pos + 7);
}

bool replica_online(Connection& master) {
  auto info = master.info("replication");
  auto it = info.find("slave0");
  return it != info.end() && it->second.find("state=online") != std::string::npos;
}

}  // namespace ferry::sim
