#include "repl/sync_state.h"

#include "core/error.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace ferry::repl {

std::optional<SyncState> load_state(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  try {
    auto j = nlohmann::json::parse(in);
    SyncState s;
    s.replid = j.at("replid").get<std::string>();
    s.offset = j.at("offset").get<long long>();
    s.stream_db = j.at("stream_db").get<int>();
    s.dirty = j.at("dirty").get<bool>();
    s.snapshot_in_progress = j.at("snapshot_in_progress").get<bool>();
    s.target_run_id = j.at("target_run_id").get<std::string>();
    s.conflict_mode = j.value("conflict_mode", "block");
    return s;
  } catch (const std::exception& e) {
    throw FerryError(ExitCode::Usage, fmt::format("state file {} is not a ferry state file: {}", path, e.what()));
  }
}

void save_state(const std::string& path, const SyncState& s) {
  nlohmann::json j{{"replid", s.replid},
                   {"offset", s.offset},
                   {"stream_db", s.stream_db},
                   {"dirty", s.dirty},
                   {"snapshot_in_progress", s.snapshot_in_progress},
                   {"target_run_id", s.target_run_id},
                   {"conflict_mode", s.conflict_mode}};
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

}  // namespace ferry::repl
