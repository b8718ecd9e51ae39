// Where a server is and how to log in to it, parsed from a redis:// URI plus the password sources.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ferry {

struct Endpoint {
  std::string role;  // "source" or "target": names the server in messages
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;                     // empty: no ACL user given
  std::optional<std::string> password;  // never printed
  std::optional<int> db;                // the /db of the URI

  // "source 127.0.0.1:6379" or "source 127.0.0.1:6379 (user alice)": safe for logs, no password.
  std::string describe() const;
  std::string address() const;
};

// Parses redis://[user[:password]@]host:port[/db]. User and password may be %-encoded.
// Throws FerryError(Usage) naming the problem; the message never repeats the password.
Endpoint parse_redis_uri(std::string_view uri, std::string role);

// Fills in the password from, in order of precedence: the file (if given), the environment
// variable (if set), the URI. A file's trailing newline is dropped.
void resolve_password(Endpoint& endpoint, const std::string& password_file, const char* env_var);

}  // namespace ferry
