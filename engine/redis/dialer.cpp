#include "redis/dialer.h"

#include "core/log.h"

#include <fmt/format.h>

#include <chrono>

namespace ferry {
namespace {

using Clock = std::chrono::steady_clock;

// What to do about a failed TLS connection, with the flag to give: " (give ...)" or "".
std::string tls_advice(TlsProblem problem, const Endpoint& ep) {
  const bool side = ep.role == "source" || ep.role == "target";
  auto flag = [&](const char* what) {
    return side ? fmt::format("--{}-tls-{}", ep.role, what) : fmt::format("the {} option tls-{}", ep.role, what);
  };
  switch (problem) {
    case TlsProblem::UnknownCa: return fmt::format(" (give the CA that signed it with {})", flag("ca"));
    case TlsProblem::NameMismatch:
      return fmt::format(" (connect by a name the certificate holds, or give the name to check with {})", flag("server-name"));
    case TlsProblem::Expired:
    case TlsProblem::NotYetValid: return " (renew the server's certificate; ferry does not skip this check by itself)";
    case TlsProblem::ClientCertRequired:
      return fmt::format(" (mutual TLS: give a certificate its CA trusts with {} and {})", flag("cert"), flag("key"));
    case TlsProblem::ClientCertRejected: return " (give a client certificate signed by a CA the server trusts)";
    case TlsProblem::NotTls: return " (use redis:// and no TLS options for a plain-text port)";
    case TlsProblem::OtherVerify: return fmt::format(" ({} skips the checks: encryption without authentication)", flag("insecure"));
    default: return "";
  }
}

bool no_password_configured(const Reply& r) {
  return r.is_error() && r.str.find("without any password configured") != std::string::npos;
}

// The handshake's steps share one deadline: each command may take what is left of it.
class Handshake {
 public:
  Handshake(Connection& conn, const Endpoint& endpoint, const Timeouts& timeouts)
      : conn_(conn), endpoint_(endpoint), timeouts_(timeouts), deadline_(Clock::now() + timeouts.connect) {}

  // One request/reply of the handshake, given what is left of the connect timeout.
  template <typename F>
  auto step(F&& f) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    if (left.count() <= 0) throw no_answer();
    conn_.set_read_timeout(left);
    try {
      return f();
    } catch (const ProtocolError& e) {
      throw FerryError(ExitCode::Connection, e.what());
    } catch (const LinkError& e) {
      if (std::string_view(e.what()).find("read timeout") != std::string_view::npos) throw no_answer();
      // A plain-text client on a TLS port: the server hangs up (or resets) without a word.
      if (first_ && !endpoint_.tls.enabled && e.tls_problem() == TlsProblem::None)
        throw FerryError(ExitCode::Connection, fmt::format("cannot use {}: {}", endpoint_.describe(), plain_on_tls()));
      if (e.tls_problem() != TlsProblem::None)  // the message names the server already
        throw FerryError(ExitCode::Connection, fmt::format("{}{}", e.what(), tls_advice(e.tls_problem(), endpoint_)));
      throw FerryError(ExitCode::Connection, fmt::format("cannot use {}: {}", endpoint_.describe(), e.what()));
    }
  }

  Reply command(const Args& args) {
    Reply r = step([&] { return conn_.command(args); });
    first_ = false;
    return r;
  }

  void authenticate() {
    if (!endpoint_.password) {
      if (!endpoint_.user.empty())
        throw FerryError(ExitCode::Usage,
                         fmt::format("{}: user '{}' given without a password", endpoint_.describe(), endpoint_.user));
      return;
    }
    const std::string& password = *endpoint_.password;
    Reply r = endpoint_.user.empty() ? command({"AUTH", password}) : command({"AUTH", endpoint_.user, password});
    // Cloud consoles give ACL credentials as one "user:password" password: try that split too.
    auto colon = password.find(':');
    if (r.is_error() && endpoint_.user.empty() && colon != std::string::npos &&
        (classify_error(r.str) == RedisErrorKind::WrongPass || no_password_configured(r))) {
      Reply split = command({"AUTH", password.substr(0, colon), password.substr(colon + 1)});
      if (!split.is_error()) {
        conn_.set_credentials(password.substr(0, colon), password.substr(colon + 1));
        r = split;
      }
    }
    if (!r.is_error()) return;
    // "AUTH <password> called without any password configured" means no password is needed.
    if (no_password_configured(r)) {
      log::warn("{} has no password configured; the given password was not needed", endpoint_.describe());
      return;
    }
    bool wrong = classify_error(r.str) == RedisErrorKind::WrongPass;
    throw FerryError(ExitCode::Connection,
                     fmt::format("cannot authenticate to {}: {} ({})", endpoint_.describe(),
                                 wrong ? "wrong user name or password" : r.str.substr(0, 80),
                                 wrong ? "WRONGPASS" : "AUTH failed"));
  }

  void ping() {
    Reply pong = command({"PING"});
    if (!pong.is_error()) return;
    auto kind = classify_error(pong.str);
    if (kind == RedisErrorKind::NoAuth || kind == RedisErrorKind::Loading)
      throw FerryError(ExitCode::Connection, fmt::format("cannot use {}: {} ({})", endpoint_.describe(), explain_error(kind),
                                                         kind == RedisErrorKind::NoAuth ? "NOAUTH" : "LOADING"));
    if (kind != RedisErrorKind::NoPerm)  // an ACL user may lack +ping; its real commands will tell
      throw FerryError(ExitCode::Connection, fmt::format("cannot use {}: PING answered {}", endpoint_.describe(), pong.str));
  }

  std::string plain_on_tls() const {
    const bool side = endpoint_.role == "source" || endpoint_.role == "target";
    return fmt::format("the server closed the connection without answering (if the port speaks TLS, use rediss:// or {})",
                       side ? "--" + endpoint_.role + "-tls" : "tls = true");
  }

  FerryError no_answer() const {
    return FerryError(ExitCode::Connection,
                      fmt::format("{} accepted the connection but did not answer within the connect timeout ({} ms): not a "
                                  "Redis server, or one too busy to answer",
                                  endpoint_.describe(), timeouts_.connect.count()));
  }

 private:
  Connection& conn_;
  const Endpoint& endpoint_;
  const Timeouts& timeouts_;
  Clock::time_point deadline_;
  bool first_ = true;  // no reply read yet
};

}  // namespace

Dialer::Dialer(Timeouts timeouts, std::string task_id) : timeouts_(timeouts), task_id_(std::move(task_id)) {}

std::string Dialer::client_name(std::string_view role) const {
  std::string name = task_id_.empty() ? fmt::format("ferry-{}", role) : fmt::format("ferry-{}-{}", task_id_, role);
  for (auto& c : name)  // CLIENT SETNAME refuses spaces and newlines
    if (static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) > '~') c = '_';
  return name;
}

std::unique_ptr<Connection> Dialer::connect(const Endpoint& endpoint, std::string_view role) const {
  std::unique_ptr<Socket> socket;
  try {
    socket = Socket::connect(endpoint.host, endpoint.port, timeouts_.connect, endpoint.tls);
  } catch (const SocketError& e) {
    throw FerryError(ExitCode::Connection,
                     fmt::format("cannot connect to {}: {}{}", endpoint.describe(), e.what(), tls_advice(e.tls_problem(), endpoint)));
  } catch (const FerryError& e) {  // a TLS file that cannot be used
    throw FerryError(e.code(), fmt::format("{}: {}", endpoint.role, e.what()));
  }
  auto conn = std::make_unique<Connection>(endpoint, std::move(socket), timeouts_.read);
  Handshake handshake(*conn, endpoint, timeouts_);
  handshake.authenticate();
  // Informational: a user without +client still works.
  handshake.command({"CLIENT", "SETNAME", client_name(role.empty() ? std::string_view(endpoint.role) : role)});
  handshake.ping();
  // The version, asked now: asked later, with pipelined replies outstanding, its reply would be
  // mistaken (a user without +info is asked when version() is first called).
  handshake.step([&] {
    try {
      conn->version();
    } catch (const CommandError&) {
    }
    return 0;
  });
  conn->set_read_timeout(timeouts_.read);
  log::debug("connected to {}", endpoint.describe());
  return conn;
}

}  // namespace ferry
