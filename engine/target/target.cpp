#include "target/target.h"

#include "rdb/format.h"
#include "target/cluster_target.h"
#include "redis/command_keys.h"

#include <fmt/format.h>

namespace ferry {

TargetFacts TargetFacts::of(Connection& conn) {
  TargetFacts f;
  f.version = conn.version();
  f.version_string = conn.version_string();
  auto server = conn.info("server");
  auto valkey = server.find("valkey_version");
  f.rdb_version = rdb::rdb_version_for_server(f.version, valkey == server.end() ? 0 : std::atoi(valkey->second.c_str()));
  f.modules = conn.module_names();
  return f;
}

bool TargetFacts::has_module_for_type(std::string_view module_type) const {
  const std::string type = ascii_lower(std::string(module_type));
  for (const auto& m : modules)
    if (type.rfind(m, 0) == 0 || m.rfind(type, 0) == 0) return true;
  return false;
}

std::unique_ptr<Target> open_target(const Dialer& dialer, const Endpoint& endpoint, PipelineLimits limits,
                                    std::chrono::seconds retry) {
  auto conn = dialer.connect(endpoint);
  if (is_cluster(*conn)) return std::make_unique<ClusterTarget>(dialer, std::move(conn), limits, retry);
  return std::make_unique<StandaloneTarget>(std::move(conn), limits);
}

StandaloneTarget::StandaloneTarget(std::unique_ptr<Connection> conn, PipelineLimits limits)
    : limits_(limits), conn_(std::move(conn)), pipe_(std::make_unique<Pipeline>(*conn_, limits)), facts_(TargetFacts::of(*conn_)) {}

void StandaloneTarget::reconnect(const Dialer& dialer) {
  auto fresh = dialer.connect(conn_->endpoint());
  pipe_->abandon();
  pipe_ = std::make_unique<Pipeline>(*fresh, limits_);
  conn_ = std::move(fresh);
}

StandaloneTarget::~StandaloneTarget() {
  pipe_.reset();  // reads what is in flight before the connection goes
}

Pipeline& StandaloneTarget::pipeline_for(int db, std::string_view) {
  if (conn_->selected_db() != db) {
    std::string what = describe();
    pipe_->send({"SELECT", std::to_string(db)}, [db, what](Reply&& r) {
      if (r.is_error())
        throw CommandError(classify_error(r.str), fmt::format("cannot select DB {} on {}: {}", db, what, r.str));
    });
    conn_->note_selected(db);
  }
  return *pipe_;
}

Connection& StandaloneTarget::request_connection() {
  pipe_->drain();
  return *conn_;
}

}  // namespace ferry
