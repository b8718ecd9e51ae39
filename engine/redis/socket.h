// A connection to a server as a stream of bytes, with deadlines: every byte ferry sends to or reads
// from a server goes through one of these (request/reply connections, the replication link, its
// spool thread). Plain TCP, or TLS through OpenSSL (hiredis 0.14 has none): the TLS handshake, the
// certificate checks and the reasons a handshake fails in words all live here.
#pragma once

#include "redis/endpoint.h"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct ssl_st;
struct ssl_ctx_st;

namespace ferry {

// Why a TLS connection failed, for the Dialer's advice (which flag to give).
enum class TlsProblem {
  None,
  UnknownCa,           // the chain does not end at a CA ferry trusts
  NameMismatch,        // the certificate is not for the name checked
  Expired,             // the server's certificate (or one in its chain) has expired
  NotYetValid,         // ... or is not valid yet
  OtherVerify,         // another certificate check failed (revoked, bad signature, purpose ...)
  ClientCertRequired,  // the server asked for a client certificate and ferry had none
  ClientCertRejected,  // the server did not accept the client certificate given
  NotTls,              // the server does not speak TLS on this port
  Handshake,           // any other handshake failure (protocol version, cipher ...)
};

// The socket failed: refused, reset, closed by the peer, a deadline passed, or TLS failed. `what()`
// is a short reason ("connection refused", "read timed out", "the server's certificate has
// expired ..."); callers add which server.
class SocketError : public std::runtime_error {
 public:
  enum class Kind { Failed, Closed, TimedOut };
  SocketError(Kind kind, const std::string& why, TlsProblem tls = TlsProblem::None)
      : std::runtime_error(why), kind_(kind), tls_(tls) {}
  Kind kind() const { return kind_; }
  TlsProblem tls_problem() const { return tls_; }

 private:
  Kind kind_;
  TlsProblem tls_;
};

class Socket {
 public:
  // Resolves `host` and connects within `timeout` (every address tried shares it); with
  // `tls.enabled`, the TLS handshake and the certificate checks share it too. A CA, certificate or
  // key file that cannot be used throws FerryError(Usage) naming the file (never its contents).
  static std::unique_ptr<Socket> connect(const std::string& host, int port, std::chrono::milliseconds timeout,
                                         const TlsOptions& tls = {});
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // Up to `max` bytes; 0 when none arrived within `wait`. Throws SocketError (Closed at end of stream).
  size_t read(char* out, size_t max, std::chrono::milliseconds wait);
  // Writes every byte, waiting at most `timeout` for the peer to take more. One thread may write
  // while another reads (the replication link's acks and its spool thread).
  void write_all(std::string_view bytes, std::chrono::milliseconds timeout);

  bool tls() const { return ssl_ != nullptr; }

 private:
  explicit Socket(int fd) : fd_(fd) {}
  void handshake(const std::string& host, const TlsOptions& tls, std::chrono::steady_clock::time_point deadline);
  size_t tls_read(char* out, size_t max, std::chrono::milliseconds wait);
  void tls_write_all(std::string_view bytes, std::chrono::milliseconds timeout);
  // A failed TLS read or write as a SocketError; `rc` is what SSL_read/SSL_write returned.
  [[noreturn]] void tls_fail(const char* doing, int error, int rc);

  int fd_;
  std::shared_ptr<ssl_ctx_st> context_;
  ssl_st* ssl_ = nullptr;
  std::mutex ssl_mu_;            // OpenSSL's SSL object takes one call at a time
  bool cert_asked_ = false;      // the server asked for a client certificate
  bool has_cert_ = false;        // ferry has one configured (sent when asked)
  bool handshaken_ = false;      // the handshake completed on ferry's side
  std::optional<SocketError> deferred_;  // a read failure after bytes returned first: thrown next
  std::atomic<bool> received_ = false;  // application data arrived: the server accepted the handshake
};

}  // namespace ferry
