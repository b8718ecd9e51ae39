#include "redis/socket.h"

#include "core/error.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <tuple>

namespace ferry {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::max<long long>(0, left));
}

// Waits for `events` on fd until the deadline; false when it passed. EINTR is not a timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, remaining_ms(deadline));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) throw SocketError(SocketError::Kind::Failed, fmt::format("poll failed: {}", std::strerror(errno)));
  }
}

// ---- TLS ----------------------------------------------------------------------------------------

// OpenSSL's socket BIO writes with write(2): a peer that closed would raise SIGPIPE. This one sends
// with MSG_NOSIGNAL, as the plain path does.
int bio_fd(BIO* b) { return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b))); }

int bio_write(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  ssize_t n = ::send(bio_fd(b), data, static_cast<size_t>(len), MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_write(b);
  return static_cast<int>(n);
}

int bio_read(BIO* b, char* out, int len) {
  BIO_clear_retry_flags(b);
  ssize_t n = ::recv(bio_fd(b), out, static_cast<size_t>(len), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_read(b);
  if (n == 0) BIO_set_flags(b, BIO_FLAGS_IN_EOF);  // OpenSSL then names an unexpected end as such
  return static_cast<int>(n);
}

long bio_ctrl(BIO* b, int cmd, long, void*) {
  if (cmd == BIO_CTRL_FLUSH) return 1;
  if (cmd == BIO_CTRL_EOF) return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
  return 0;
}

BIO* socket_bio(int fd) {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ferry socket");
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    return m;
  }();
  BIO* b = BIO_new(method);
  if (!b) throw SocketError(SocketError::Kind::Failed, "cannot set up TLS (out of memory)");
  BIO_set_data(b, reinterpret_cast<void*>(static_cast<intptr_t>(fd)));
  BIO_set_init(b, 1);
  return b;
}

// The first certificate check that failed in a handshake, as the verify callback saw it.
struct VerifyFailure {
  int error = X509_V_OK;
  int depth = 0;
  std::string names;      // the certificate's DNS and IP names (or its CN)
  std::string not_after;  // its expiry, UTC
  std::string not_before;
};

int verify_index() {
  static int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// What a handshake saw, reachable from OpenSSL's callbacks through the SSL object.
struct HandshakeNotes {
  VerifyFailure verify;
  bool cert_asked = false;
};

std::string asn1_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return "an unknown date";
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return out;
}

std::string certificate_names(X509* cert) {
  std::string out;
  auto add = [&](const std::string& name) { out += (out.empty() ? "" : ", ") + name; };
  if (auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
      if (n->type == GEN_DNS) {
        add(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                        static_cast<size_t>(ASN1_STRING_length(n->d.dNSName))));
      } else if (n->type == GEN_IPADD) {
        const int len = ASN1_STRING_length(n->d.iPAddress);
        char text[INET6_ADDRSTRLEN] = "";
        if (len == 4 || len == 16)
          ::inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(n->d.iPAddress), text, sizeof text);
        add(text);
      }
    }
    GENERAL_NAMES_free(names);
  }
  if (out.empty()) {
    char cn[256] = "";
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0) add(cn);
  }
  return out.empty() ? "no names" : out;
}

int on_verify(int ok, X509_STORE_CTX* store) {
  if (ok) return ok;
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* notes = ssl ? static_cast<HandshakeNotes*>(SSL_get_ex_data(ssl, verify_index())) : nullptr;
  if (notes && notes->verify.error == X509_V_OK) {
    notes->verify.error = X509_STORE_CTX_get_error(store);
    notes->verify.depth = X509_STORE_CTX_get_error_depth(store);
    if (X509* cert = X509_STORE_CTX_get_current_cert(store)) {
      notes->verify.names = certificate_names(cert);
      notes->verify.not_after = asn1_time(X509_get0_notAfter(cert));
      notes->verify.not_before = asn1_time(X509_get0_notBefore(cert));
    }
  }
  return ok;
}

// Called whenever the server asks for a client certificate (a CertificateRequest), whether one is
// configured or not: noted; the handshake goes on with what is configured (the server decides).
int on_certificate_request(SSL* ssl, void*) {
  if (auto* notes = static_cast<HandshakeNotes*>(SSL_get_ex_data(ssl, verify_index()))) notes->cert_asked = true;
  return 1;
}

// A passphrase prompt would wait on the terminal: ferry reads unencrypted keys only.
int no_passphrase(char*, int, int, void*) { return 0; }

std::string openssl_reason() {
  unsigned long e = ERR_peek_last_error();
  const char* reason = e ? ERR_reason_error_string(e) : nullptr;
  return reason ? reason : "unknown error";
}

void require_readable(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw FerryError(ExitCode::Usage, fmt::format("the TLS {} file '{}' cannot be read: {}", what, path, std::strerror(errno)));
}

// One client context per distinct set of files and checks in a process: the CA store is read once.
std::shared_ptr<SSL_CTX> client_context(const TlsOptions& o) {
  static std::mutex mu;
  static std::map<std::tuple<std::string, std::string, std::string, bool>, std::shared_ptr<SSL_CTX>> made;
  std::lock_guard lock(mu);
  auto key = std::make_tuple(o.ca_file, o.cert_file, o.key_file, o.insecure);
  if (auto it = made.find(key); it != made.end()) return it->second;

  if (o.cert_file.empty() != o.key_file.empty())
    throw FerryError(ExitCode::Usage, o.cert_file.empty() ? "a TLS key file needs its certificate (tls-cert)"
                                                          : "a TLS client certificate needs its key file (tls-key)");
  ERR_clear_error();
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) throw FerryError(ExitCode::Failed, fmt::format("cannot set up TLS: {}", openssl_reason()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_default_passwd_cb(ctx.get(), no_passphrase);
  SSL_CTX_set_cert_cb(ctx.get(), on_certificate_request, nullptr);
  if (o.insecure) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, on_verify);
    if (!o.ca_file.empty()) {
      require_readable(o.ca_file, "CA");
      if (SSL_CTX_load_verify_locations(ctx.get(), o.ca_file.c_str(), nullptr) != 1)
        throw FerryError(ExitCode::Usage, fmt::format("the TLS CA file '{}' holds no PEM certificate ({})", o.ca_file,
                                                      openssl_reason()));
    } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
      throw FerryError(ExitCode::Usage, fmt::format("cannot read the system's CA store ({}): give a CA file (tls-ca)",
                                                    openssl_reason()));
    }
  }
  if (!o.cert_file.empty()) {
    require_readable(o.cert_file, "certificate");
    require_readable(o.key_file, "key");
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), o.cert_file.c_str()) != 1)
      throw FerryError(ExitCode::Usage, fmt::format("the TLS certificate file '{}' holds no PEM certificate ({})",
                                                    o.cert_file, openssl_reason()));
    ERR_clear_error();
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), o.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      throw FerryError(ExitCode::Usage,
                       ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH
                           ? fmt::format("the TLS key file '{}' does not belong to the certificate '{}'", o.key_file, o.cert_file)
                           : fmt::format("the TLS key file '{}' is not an unencrypted PEM private key ({})", o.key_file,
                                         openssl_reason()));
    if (SSL_CTX_check_private_key(ctx.get()) != 1)
      throw FerryError(ExitCode::Usage, fmt::format("the TLS key file '{}' does not belong to the certificate '{}'",
                                                    o.key_file, o.cert_file));
  }
  made.emplace(key, ctx);
  return ctx;
}

bool is_ip_literal(const std::string& name) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, name.c_str(), buf) == 1 || ::inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

// A certificate check that failed, in words.
SocketError verify_error(const VerifyFailure& f, const std::string& checked_name) {
  const std::string which = f.depth == 0 ? "the server's certificate" : fmt::format("a CA certificate in the server's chain (depth {})", f.depth);
  switch (f.error) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
      return SocketError(SocketError::Kind::Failed,
                         fmt::format("{} is not signed by a CA ferry trusts (unknown CA: {})", which,
                                     X509_verify_cert_error_string(f.error)),
                         TlsProblem::UnknownCa);
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return SocketError(SocketError::Kind::Failed,
                         fmt::format("the server's certificate is not for '{}' (name mismatch: it names {})", checked_name,
                                     f.names),
                         TlsProblem::NameMismatch);
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return SocketError(SocketError::Kind::Failed,
                         fmt::format("{} has expired (valid until {}; it names {})", which, f.not_after, f.names),
                         TlsProblem::Expired);
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return SocketError(SocketError::Kind::Failed,
                         fmt::format("{} is not valid yet (valid from {}; check the clocks)", which, f.not_before),
                         TlsProblem::NotYetValid);
    default:
      return SocketError(SocketError::Kind::Failed,
                         fmt::format("{} failed the check: {}", which, X509_verify_cert_error_string(f.error)),
                         TlsProblem::OtherVerify);
  }
}

bool is_alert(int reason, std::initializer_list<int> alerts) {
  for (int a : alerts)
    if (reason == a) return true;
  return false;
}

}  // namespace

std::unique_ptr<Socket> Socket::connect(const std::string& host, int port, std::chrono::milliseconds timeout,
                                        const TlsOptions& tls) {
  const auto deadline = Clock::now() + timeout;
  // Before any network: a TLS file that cannot be used is the user's to fix, whatever the server.
  std::shared_ptr<SSL_CTX> context = tls.enabled ? client_context(tls) : nullptr;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0)
    throw SocketError(SocketError::Kind::Failed, fmt::format("cannot resolve the host name: {}", gai_strerror(rc)));
  std::string why = "no address";
  int connected = -1;
  for (addrinfo* a = found; a && connected < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      int err = 0;
      socklen_t len = sizeof err;
      bool ready = wait_for(fd, POLLOUT, deadline);
      if (ready) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = (ready && err == 0) ? 0 : -1;
      why = rc == 0 ? "" : err ? std::strerror(err) : "connect timed out";
    } else if (rc != 0) {
      why = std::strerror(errno);
    }
    if (rc == 0) connected = fd;
    else ::close(fd);
  }
  ::freeaddrinfo(found);
  if (connected < 0) {
    for (auto& c : why) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    throw SocketError(why == "connect timed out" ? SocketError::Kind::TimedOut : SocketError::Kind::Failed, why);
  }
  int one = 1;
  ::setsockopt(connected, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::unique_ptr<Socket> socket(new Socket(connected));
  if (context) {
    socket->context_ = std::move(context);
    socket->handshake(host, tls, deadline);
  }
  return socket;
}

void Socket::handshake(const std::string& host, const TlsOptions& tls, Clock::time_point deadline) {
  ssl_ = SSL_new(context_.get());
  if (!ssl_) throw SocketError(SocketError::Kind::Failed, fmt::format("cannot set up TLS: {}", openssl_reason()));
  BIO* bio = socket_bio(fd_);
  SSL_set_bio(ssl_, bio, bio);
  HandshakeNotes notes;
  SSL_set_ex_data(ssl_, verify_index(), &notes);
  has_cert_ = !tls.cert_file.empty();
  const std::string name = tls.server_name.empty() ? host : tls.server_name;
  bool name_set = true;
  if (is_ip_literal(name)) {
    if (!tls.insecure) name_set = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str()) == 1;
  } else {
    SSL_set_tlsext_host_name(ssl_, name.c_str());  // SNI: names only, never addresses
    if (!tls.insecure) name_set = SSL_set1_host(ssl_, name.c_str()) == 1;
  }
  if (!name_set)  // never go on without the name check
    throw SocketError(SocketError::Kind::Failed, fmt::format("cannot set up the TLS name check for '{}'", name));
  for (;;) {
    ERR_clear_error();
    const int rc = SSL_connect(ssl_);
    if (rc == 1) break;
    const int error = SSL_get_error(ssl_, rc);
    cert_asked_ = notes.cert_asked;
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      if (wait_for(fd_, error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) continue;
      SSL_set_ex_data(ssl_, verify_index(), nullptr);
      throw SocketError(SocketError::Kind::TimedOut,
                        "no TLS handshake within the connect timeout: the port does not speak TLS, or the server is too busy",
                        TlsProblem::NotTls);
    }
    SSL_set_ex_data(ssl_, verify_index(), nullptr);
    if (notes.verify.error != X509_V_OK) throw verify_error(notes.verify, name);
    const int reason = ERR_GET_REASON(ERR_peek_last_error());
    const bool hung_up =
        error == SSL_ERROR_SYSCALL || error == SSL_ERROR_ZERO_RETURN || reason == SSL_R_UNEXPECTED_EOF_WHILE_READING;
    if (hung_up && !notes.cert_asked)
      throw SocketError(SocketError::Kind::Failed,
                        "the server closed the connection during the TLS handshake (a port that does not speak TLS?)",
                        TlsProblem::NotTls);
    if (is_alert(reason, {SSL_R_WRONG_VERSION_NUMBER, SSL_R_PACKET_LENGTH_TOO_LONG, SSL_R_UNKNOWN_PROTOCOL,
                          SSL_R_RECORD_LENGTH_MISMATCH, SSL_R_HTTP_REQUEST}))
      throw SocketError(SocketError::Kind::Failed,
                        fmt::format("the server does not answer in TLS on this port ({}): a plain-text port?", openssl_reason()),
                        TlsProblem::NotTls);
    tls_fail("the TLS handshake", error, rc);
  }
  SSL_set_ex_data(ssl_, verify_index(), nullptr);
  cert_asked_ = notes.cert_asked;
  handshaken_ = true;
}

void Socket::tls_fail(const char* doing, int error, int rc) {
  const int reason = error == SSL_ERROR_SSL ? ERR_GET_REASON(ERR_peek_last_error()) : 0;
  const bool closed = error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_SYSCALL && (rc == 0 || errno == 0)) ||
                      (error == SSL_ERROR_SYSCALL && (errno == ECONNRESET || errno == EPIPE)) ||
                      reason == SSL_R_UNEXPECTED_EOF_WHILE_READING;
  // Before the server accepted the handshake (with TLS 1.3 it says so only after ferry's first
  // request), a refusal is about ferry's certificate.
  if (!received_ && cert_asked_ && !has_cert_ &&
      (closed || is_alert(reason, {SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED, SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE,
                                   SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE})))
    throw SocketError(SocketError::Kind::Failed, "the server asks for a client certificate and none was given",
                      TlsProblem::ClientCertRequired);
  if (!received_ && cert_asked_ && has_cert_ &&
      is_alert(reason, {SSL_R_SSLV3_ALERT_BAD_CERTIFICATE, SSL_R_TLSV1_ALERT_UNKNOWN_CA, SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED,
                        SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN, SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE,
                        SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED, SSL_R_TLSV1_ALERT_DECRYPT_ERROR}))
    throw SocketError(SocketError::Kind::Failed,
                      fmt::format("the server did not accept ferry's client certificate ({})", openssl_reason()),
                      TlsProblem::ClientCertRejected);
  // The server checks a client certificate after ferry's side of the handshake is done: when it
  // hangs up before the first reply, its alert is often lost in the reset.
  if (handshaken_ && !received_ && cert_asked_ && has_cert_ && closed)
    throw SocketError(SocketError::Kind::Failed,
                      "the server closed the connection right after the TLS handshake: it did not accept ferry's client "
                      "certificate, or allows no more clients",
                      TlsProblem::ClientCertRejected);
  if (closed) throw SocketError(SocketError::Kind::Closed, fmt::format("the server closed the connection ({})", doing));
  if (error == SSL_ERROR_SYSCALL)
    throw SocketError(SocketError::Kind::Failed, fmt::format("{} failed: {}", doing, std::strerror(errno)));
  throw SocketError(SocketError::Kind::Failed, fmt::format("{} failed: TLS error: {}", doing, openssl_reason()),
                    received_ ? TlsProblem::None : TlsProblem::Handshake);
}

Socket::~Socket() {
  if (ssl_) SSL_free(ssl_);  // frees the BIO; no close_notify: the peer sees the socket close
  ::close(fd_);
}

size_t Socket::read(char* out, size_t max, std::chrono::milliseconds wait) {
  if (ssl_) return tls_read(out, max, wait);
  const auto deadline = Clock::now() + wait;
  for (;;) {
    ssize_t n = ::recv(fd_, out, max, 0);
    if (n > 0) return static_cast<size_t>(n);
    if (n == 0) throw SocketError(SocketError::Kind::Closed, "the server closed the connection");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      throw SocketError(SocketError::Kind::Failed, fmt::format("read failed: {}", std::strerror(errno)));
    if (!wait_for(fd_, POLLIN, deadline)) return 0;
  }
}

void Socket::write_all(std::string_view bytes, std::chrono::milliseconds timeout) {
  if (ssl_) return tls_write_all(bytes, timeout);
  size_t done = 0;
  auto deadline = Clock::now() + timeout;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      deadline = Clock::now() + timeout;  // the peer is taking bytes: the timeout is for a stall
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(fd_, POLLOUT, deadline)) throw SocketError(SocketError::Kind::TimedOut, "write timed out");
      continue;
    }
    if (errno == EPIPE || errno == ECONNRESET)
      throw SocketError(SocketError::Kind::Closed, fmt::format("the server closed the connection ({})", std::strerror(errno)));
    throw SocketError(SocketError::Kind::Failed, fmt::format("write failed: {}", std::strerror(errno)));
  }
}

// The SSL object is locked only around OpenSSL's calls, never while waiting on the socket, so a
// writer is not held up by a reader waiting for data. Reads take every record already decrypted or
// arriving (one record is 16 KB at most), up to `max`.
size_t Socket::tls_read(char* out, size_t max, std::chrono::milliseconds wait) {
  if (deferred_) throw *deferred_;
  const auto deadline = Clock::now() + wait;
  size_t got = 0;
  for (;;) {
    int rc, error;
    {
      std::lock_guard lock(ssl_mu_);
      ERR_clear_error();
      errno = 0;
      rc = SSL_read(ssl_, out + got, static_cast<int>(std::min<size_t>(max - got, 1 << 30)));
      error = rc > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, rc);
      if (rc <= 0 && error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        if (got == 0) tls_fail("reading", error, rc);
        try {  // the bytes before it first; OpenSSL would not say the same again on the next read
          tls_fail("reading", error, rc);
        } catch (const SocketError& e) {
          deferred_ = e;
        }
        return got;
      }
    }
    if (rc > 0) {
      received_ = true;
      got += static_cast<size_t>(rc);
      if (got == max) return got;
      continue;
    }
    if (got > 0) return got;
    if (!wait_for(fd_, error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) return 0;
  }
}

void Socket::tls_write_all(std::string_view bytes, std::chrono::milliseconds timeout) {
  size_t done = 0;
  auto deadline = Clock::now() + timeout;
  while (done < bytes.size()) {
    int rc, error;
    {
      std::lock_guard lock(ssl_mu_);
      ERR_clear_error();
      errno = 0;
      rc = SSL_write(ssl_, bytes.data() + done, static_cast<int>(std::min<size_t>(bytes.size() - done, 1 << 30)));
      error = rc > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, rc);
      if (rc <= 0 && error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) tls_fail("writing", error, rc);
    }
    if (rc > 0) {
      done += static_cast<size_t>(rc);
      deadline = Clock::now() + timeout;
      continue;
    }
    if (!wait_for(fd_, error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
      throw SocketError(SocketError::Kind::TimedOut, "write timed out");
  }
}

}  // namespace ferry
