// The one way ferry opens a connection to a server, for every purpose (data, the replication link,
// precheck, verify, the simulator): TCP connect, then the handshake (AUTH, CLIENT SETNAME, PING,
// the server's version), all of it within the connect timeout, so a listener that accepts and never
// answers fails as fast as one that refuses. TLS (a later wave) goes in here once.
//
// AUTH: a user in the URI logs in as that ACL user. A password alone is tried as the default
// user's; when that fails and it holds a ':', as `user:password` (the form cloud consoles give
// ACL credentials in), whether it came from the URI, a password file or the environment.
#pragma once

#include "redis/connection.h"

#include <memory>
#include <string>
#include <string_view>

namespace ferry {

class Dialer {
 public:
  // task_id names the connections (CLIENT SETNAME ferry-<task_id>-<role>) so an operator can tell
  // them apart in CLIENT LIST; empty: ferry-<role>.
  explicit Dialer(Timeouts timeouts = {}, std::string task_id = {});

  // Connects and logs in. `role` names the connection ("source", "target", "replica"; default the
  // endpoint's role). Throws FerryError(Connection) naming the server and what failed: refused,
  // timed out, no answer, not Redis, wrong password, password required; FerryError(Usage) for a
  // user given without a password.
  std::unique_ptr<Connection> connect(const Endpoint& endpoint, std::string_view role = {}) const;

  const Timeouts& timeouts() const { return timeouts_; }
  // The CLIENT SETNAME name for a role.
  std::string client_name(std::string_view role) const;

 private:
  Timeouts timeouts_;
  std::string task_id_;
};

}  // namespace ferry
