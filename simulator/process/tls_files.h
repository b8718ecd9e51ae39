// Certificates for TLS servers the simulator starts, made fresh per run with OpenSSL's API (no
// `openssl` binary needed): a CA, a server certificate for 127.0.0.1, ::1 and localhost, and a
// client certificate, all signed by the CA; and the odd ones tests need (another CA, an expired
// certificate, one for another name). EC P-256 keys, unencrypted, mode 0600.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace ferry::sim {

// A certificate and its key, as files.
struct CertFiles {
  std::string cert;
  std::string key;
};

struct CertSpec {
  std::string common_name;
  std::vector<std::string> dns_names;  // subjectAltName DNS entries
  std::vector<std::string> ip_names;   // subjectAltName IP entries
  long valid_from_s = -3600;           // relative to now
  long valid_until_s = 10L * 365 * 86400;
};

class CertAuthority {
 public:
  // A new self-signed CA written to dir/<name>.crt (and .key). Throws std::runtime_error.
  CertAuthority(std::string dir, std::string name = "ca");
  ~CertAuthority();
  CertAuthority(const CertAuthority&) = delete;
  CertAuthority& operator=(const CertAuthority&) = delete;

  const std::string& cert_file() const { return files_.cert; }
  // A certificate signed by this CA, written to dir/<name>.crt and dir/<name>.key.
  CertFiles issue(const std::string& name, const CertSpec& spec) const;

 private:
  struct Keys;
  std::string dir_;
  CertFiles files_;
  std::unique_ptr<Keys> keys_;
};

// What a TLS redis-server uses and what a client of it needs: one CA signs both sides.
struct TlsFiles {
  std::string dir;
  std::string ca;      // the CA certificate: servers trust clients by it, clients servers
  CertFiles server;    // for 127.0.0.1, ::1 and localhost (also the client cert of a replica)
  CertFiles client;    // ferry's client certificate (CN ferry-client)
  std::shared_ptr<const void> owner;  // a temporary `dir`: removed when the last copy goes
};

// A CA and the server and client certificates in `dir` (created if needed); empty: in a new
// temporary directory, removed with the last copy of the result (FERRY_KEEP_SERVER_DIRS=1 keeps it).
TlsFiles make_tls_files(const std::string& dir = {});

}  // namespace ferry::sim
