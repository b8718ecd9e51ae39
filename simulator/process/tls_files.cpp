#include "process/tls_files.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace ferry::sim {
namespace {

[[noreturn]] void fail(const std::string& doing) {
  char why[256] = "unknown error";
  if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, why, sizeof why);
  throw std::runtime_error(fmt::format("cannot make test certificates: {}: {}", doing, why));
}

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

Key new_key() {
  Key key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) fail("generating a key");
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) fail(fmt::format("extension {}", value));
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// An unsigned certificate for `key` with a random serial, the CN and the validity.
Cert new_cert(EVP_PKEY* key, const std::string& common_name, long from_s, long until_s) {
  Cert cert(X509_new(), X509_free);
  unsigned char serial[16];
  if (!cert || RAND_bytes(serial, sizeof serial) != 1) fail("a certificate");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_set_version(cert.get(), 2);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), from_s);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), until_s);
  X509_set_pubkey(cert.get(), key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("ferry test"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  return cert;
}

void write_pem(const std::string& path, X509* cert, EVP_PKEY* key) {
  // A key file is never readable by others, not even for a moment.
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, key ? 0600 : 0644);
  FILE* f = fd >= 0 ? ::fdopen(fd, "w") : nullptr;
  if (!f) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error(fmt::format("cannot write {}", path));
  }
  bool ok = cert ? PEM_write_X509(f, cert) == 1 : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(f);
  if (!ok) fail(fmt::format("writing {}", path));
}

}  // namespace

struct CertAuthority::Keys {
  Key key{nullptr, EVP_PKEY_free};
  Cert cert{nullptr, X509_free};
};

CertAuthority::CertAuthority(std::string dir, std::string name) : dir_(std::move(dir)), keys_(std::make_unique<Keys>()) {
  std::filesystem::create_directories(dir_);
  keys_->key = new_key();
  keys_->cert = new_cert(keys_->key.get(), "ferry test CA " + name, -3600, 10L * 365 * 86400);
  X509* c = keys_->cert.get();
  X509_set_issuer_name(c, X509_get_subject_name(c));
  add_extension(c, c, NID_basic_constraints, "critical,CA:TRUE");
  add_extension(c, c, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(c, c, NID_subject_key_identifier, "hash");
  if (X509_sign(c, keys_->key.get(), EVP_sha256()) <= 0) fail("signing the CA");
  files_ = {fmt::format("{}/{}.crt", dir_, name), fmt::format("{}/{}.key", dir_, name)};
  write_pem(files_.cert, c, nullptr);
  write_pem(files_.key, nullptr, keys_->key.get());
}

CertAuthority::~CertAuthority() = default;

CertFiles CertAuthority::issue(const std::string& name, const CertSpec& spec) const {
  Key key = new_key();
  Cert cert = new_cert(key.get(), spec.common_name.empty() ? name : spec.common_name, spec.valid_from_s, spec.valid_until_s);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(keys_->cert.get()));
  add_extension(cert.get(), keys_->cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), keys_->cert.get(), NID_authority_key_identifier, "keyid");
  std::string alt;
  for (const auto& d : spec.dns_names) alt += (alt.empty() ? "DNS:" : ",DNS:") + d;
  for (const auto& ip : spec.ip_names) alt += (alt.empty() ? "IP:" : ",IP:") + ip;
  if (!alt.empty()) add_extension(cert.get(), keys_->cert.get(), NID_subject_alt_name, alt);
  if (X509_sign(cert.get(), keys_->key.get(), EVP_sha256()) <= 0) fail("signing " + name);
  CertFiles out{fmt::format("{}/{}.crt", dir_, name), fmt::format("{}/{}.key", dir_, name)};
  write_pem(out.cert, cert.get(), nullptr);
  write_pem(out.key, nullptr, key.get());
  return out;
}

TlsFiles make_tls_files(const std::string& where) {
  TlsFiles out;
  std::string dir = where;
  if (dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-tls-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temporary directory for certificates");
    dir = tmpl;
    out.owner = std::shared_ptr<const void>(nullptr, [dir](const void*) {
      std::error_code ec;
      if (!std::getenv("FERRY_KEEP_SERVER_DIRS")) std::filesystem::remove_all(dir, ec);
    });
  }
  CertAuthority ca(dir);
  out.dir = dir;
  out.ca = ca.cert_file();
  out.server = ca.issue("server", {"ferry test server", {"localhost"}, {"127.0.0.1", "::1"}});
  out.client = ca.issue("client", {"ferry-client", {}, {}});
  return out;
}

}  // namespace ferry::sim
