#include "repl/sync_state.h"

#include "core/error.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace ferry::repl {

namespace {

SyncState from_json(const nlohmann::json& j) {
  SyncState s;
    s.replid = j.at("replid").get<std::string>();
    s.offset = j.at("offset").get<long long>();
    s.stream_db = j.at("stream_db").get<int>();
    s.dirty = j.at("dirty").get<bool>();
    s.snapshot_in_progress = j.at("snapshot_in_progress").get<bool>();
    s.target_run_id = j.at("target_run_id").get<std::string>();
  s.conflict_mode = j.value("conflict_mode", "block");
  if (j.contains("nodes")) s.nodes = j.at("nodes").get<std::vector<std::string>>();
  return s;
}

nlohmann::json to_json(const SyncState& s) {
  nlohmann::json j{{"replid", s.replid},
                   {"offset", s.offset},
                   {"stream_db", s.stream_db},
                   {"dirty", s.dirty},
                   {"snapshot_in_progress", s.snapshot_in_progress},
                   {"target_run_id", s.target_run_id},
                   {"conflict_mode", s.conflict_mode}};
  if (!s.nodes.empty()) j["nodes"] = s.nodes;
  return j;
}

std::optional<nlohmann::json> read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw FerryError(ExitCode::Usage, fmt::format("state file {} is not a ferry state file: {}", path, e.what()));
  }
}

void write_json(const std::string& path, const nlohmann::json& j) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump() << "\n";
    out.flush();
    if (!out) throw FerryError(ExitCode::Failed, fmt::format("cannot write state file {}: {}", tmp, std::strerror(errno)));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw FerryError(ExitCode::Failed, fmt::format("cannot replace state file {}: {}", path, std::strerror(errno)));
}

SyncState parse_entry(const std::string& path, const nlohmann::json& j) {
  try {
    return from_json(j);
  } catch (const std::exception& e) {
    throw FerryError(ExitCode::Usage, fmt::format("state file {} is not a ferry state file: {}", path, e.what()));
  }
}

}  // namespace

std::optional<SyncState> load_state(const std::string& path) {
  auto j = read_json(path);
  if (!j) return std::nullopt;
  return parse_entry(path, *j);
}

void save_state(const std::string& path, const SyncState& s) { write_json(path, to_json(s)); }

void StateFile::read_once() {
  if (read_) return;
  read_ = true;
  auto j = read_json(path_);
  if (!j) return;
  if (j->is_object() && j->contains("shards")) {
    sharded_ = true;
    for (const auto& e : j->at("shards")) entries_.push_back(parse_entry(path_, e));
  } else {
    entries_.push_back(parse_entry(path_, *j));
  }
}

std::optional<SyncState> StateFile::load(const std::vector<std::string>& nodes) {
  std::lock_guard lock(mu_);
  read_once();
  if (entries_.empty()) return std::nullopt;
  if (nodes.empty() == sharded_)
    throw FerryError(ExitCode::Usage,
                     fmt::format("state file {} is of a {} source, and this task reads a {}: give another --state", path_,
                                 sharded_ ? "cluster" : "standalone", nodes.empty() ? "standalone server" : "cluster"));
  if (nodes.empty()) return entries_.front();
  for (const auto& e : entries_)
    for (const auto& id : nodes)
      if (std::find(e.nodes.begin(), e.nodes.end(), id) != e.nodes.end()) return e;
  return std::nullopt;
}

void StateFile::save(const SyncState& state) {
  std::lock_guard lock(mu_);
  read_once();
  if (state.nodes.empty()) {
    entries_ = {state};
    write_json(path_, to_json(state));
    return;
  }
  sharded_ = true;
  auto same_shard = [&](const SyncState& e) {
    return std::any_of(state.nodes.begin(), state.nodes.end(),
                       [&](const std::string& id) { return std::find(e.nodes.begin(), e.nodes.end(), id) != e.nodes.end(); });
  };
  auto it = std::find_if(entries_.begin(), entries_.end(), same_shard);
  if (it == entries_.end()) entries_.push_back(state);
  else *it = state;
  nlohmann::json shards = nlohmann::json::array();
  for (const auto& e : entries_) shards.push_back(to_json(e));
  write_json(path_, {{"shards", shards}});
}

}  // namespace ferry::repl
