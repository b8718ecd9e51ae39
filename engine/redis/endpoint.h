// Where a server is and how to log in to it, parsed from a redis:// or rediss:// URI plus the
// password sources and the TLS settings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ferry {

// TLS to a server (rediss://, or the task's tls settings). Verified by default: the chain against
// `ca_file` (none: the system's CA store) and the host name (or `server_name`) against the
// certificate. The files are named in messages; their contents never are.
struct TlsOptions {
  bool enabled = false;
  std::string ca_file;      // PEM CA certificate(s) to trust; empty: the system store
  std::string cert_file;    // PEM client certificate, for servers that ask for one
  std::string key_file;     // its PEM private key (unencrypted)
  std::string server_name;  // the name to check and send (SNI); empty: the host
  bool insecure = false;    // no chain or name check (still encrypted)
};

struct Endpoint {
  std::string role;  // "source" or "target": names the server in messages
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;                     // empty: no ACL user given
  std::optional<std::string> password;  // never printed
  std::optional<int> db;                // the /db of the URI
  TlsOptions tls;

  // "source 127.0.0.1:6379", "source 127.0.0.1:6379 (user alice)", "source 127.0.0.1:6380 (TLS)":
  // safe for logs, no password.
  std::string describe() const;
  std::string address() const;
};

// Parses redis://[user[:password]@]host:port[/db], or rediss://... for TLS (tls.enabled). User and
// password may be %-encoded.
// Throws FerryError(Usage) naming the problem; the message never repeats the password.
Endpoint parse_redis_uri(std::string_view uri, std::string role);

// Fills in the password from, in order of precedence: the file (if given), the environment
// variable (if set), the URI. A file's trailing newline is dropped.
void resolve_password(Endpoint& endpoint, const std::string& password_file, const char* env_var);

}  // namespace ferry
