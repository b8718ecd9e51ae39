#include "redis/endpoint.h"

#include "core/error.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ferry {
namespace {

std::string percent_decode(std::string_view in, const std::string& role, const char* what) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= in.size() ||
        std::from_chars(in.data() + i + 1, in.data() + i + 3, value, 16).ptr != in.data() + i + 3)
      throw FerryError(ExitCode::Usage, fmt::format("{} URI: bad %-escape in the {}", role, what));
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

int parse_int(std::string_view text, int lo, int hi, const std::string& role, const char* what) {
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value < lo || value > hi)
    throw FerryError(ExitCode::Usage,
                     fmt::format("{} URI: {} '{}' is not a number in {}-{}", role, what, text, lo, hi));
  return value;
}

}  // namespace

std::string Endpoint::address() const {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

std::string Endpoint::describe() const {
  const char* over = tls.enabled ? "TLS" : "";
  if (user.empty()) return tls.enabled ? fmt::format("{} {} ({})", role, address(), over) : fmt::format("{} {}", role, address());
  return fmt::format("{} {} (user {}{}{})", role, address(), user, tls.enabled ? ", " : "", over);
}

Endpoint parse_redis_uri(std::string_view uri, std::string role) {
  Endpoint ep;
  ep.role = std::move(role);
  constexpr std::string_view plain = "redis://", tls = "rediss://";
  std::string_view rest;
  if (uri.substr(0, plain.size()) == plain) {
    rest = uri.substr(plain.size());
  } else if (uri.substr(0, tls.size()) == tls) {
    rest = uri.substr(tls.size());
    ep.tls.enabled = true;
  } else {
    throw FerryError(ExitCode::Usage,
                     fmt::format("{} URI must look like redis://[user[:password]@]host:port[/db] (rediss:// for TLS)", ep.role));
  }

  // Credentials end at the last '@' so a raw '@' in a password still parses.
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view creds = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = creds.find(':');
    if (colon == std::string_view::npos) {
      ep.user = percent_decode(creds, ep.role, "user name");
    } else {
      ep.user = percent_decode(creds.substr(0, colon), ep.role, "user name");
      ep.password = percent_decode(creds.substr(colon + 1), ep.role, "password");
    }
  }

  std::string_view hostport = rest;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) ep.db = parse_int(db, 0, 255, ep.role, "database");
  }
  if (!hostport.empty() && hostport.front() == '[') {  // [ipv6]:port
    auto close = hostport.find(']');
    if (close == std::string_view::npos) throw FerryError(ExitCode::Usage, fmt::format("{} URI: unclosed '['", ep.role));
    ep.host = std::string(hostport.substr(1, close - 1));
    hostport = hostport.substr(close + 1);
    if (!hostport.empty()) {
      if (hostport.front() != ':') throw FerryError(ExitCode::Usage, fmt::format("{} URI: expected ':' after ']'", ep.role));
      ep.port = parse_int(hostport.substr(1), 1, 65535, ep.role, "port");
    }
  } else {
    auto colon = hostport.rfind(':');
    if (colon == std::string_view::npos) {
      ep.host = std::string(hostport);
    } else {
      ep.host = std::string(hostport.substr(0, colon));
      ep.port = parse_int(hostport.substr(colon + 1), 1, 65535, ep.role, "port");
    }
  }
  if (ep.host.empty()) throw FerryError(ExitCode::Usage, fmt::format("{} URI: no host", ep.role));
  return ep;
}

void resolve_password(Endpoint& endpoint, const std::string& password_file, const char* env_var) {
  if (!password_file.empty()) {
    std::ifstream in(password_file, std::ios::binary);
    if (!in)
      throw FerryError(ExitCode::Usage,
                       fmt::format("{} password file '{}' cannot be read", endpoint.role, password_file));
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string text = buffer.str();
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    endpoint.password = text;
    return;
  }
  if (env_var) {
    if (const char* value = std::getenv(env_var); value && *value) endpoint.password = value;
  }
}

}  // namespace ferry
