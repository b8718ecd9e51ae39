#include <utility>  // before Boost.Asio/Process: g++ 12 with -std=c++20 needs it (TOOLCHAIN.md)

#include "process/redis_server.h"

#include "redis/connection.h"

#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace bp = boost::process;
namespace fs = std::filesystem;

namespace ferry::sim {

struct RedisServer::Child {
  bp::child process;
};

namespace {
// The server's version from `BINARY --version` ("... v=7.0.15 ..."), as major*10000+minor*100+patch.
int binary_version(const std::vector<std::string>& launcher, const std::string& binary) {
  std::string exe = launcher.empty() ? binary : launcher[0];
  std::vector<std::string> args(launcher.empty() ? launcher.begin() : launcher.begin() + 1, launcher.end());
  if (!launcher.empty()) args.push_back(binary);
  args.push_back("--version");
  std::string path = bp::search_path(exe).string();
  bp::ipstream out;
  try {
    bp::child c(bp::exe = path.empty() ? exe : path, bp::args = args, bp::std_out > out, bp::std_err > bp::null);
    std::string text((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
    c.wait();
    auto pos = text.find("v=");
    int major = 0, minor = 0, patch = 0;
    if (pos != std::string::npos) std::sscanf(text.c_str() + pos + 2, "%d.%d.%d", &major, &minor, &patch);
    return major * 10000 + minor * 100 + patch;
  } catch (const std::exception&) {
    return 0;
  }
}

// Up means: it accepts a connection and answers PING with anything but LOADING (NOAUTH counts:
// the server is up, it wants a password).
bool answers_ping(Endpoint ep) {
  const std::chrono::seconds timeout(1);
  ep.tls.insecure = true;  // up is up, whatever its certificate (tests start servers with bad ones)
  try {
    Connection conn(ep, Socket::connect(ep.host, ep.port, timeout, ep.tls), timeout);
    Reply r = conn.command({"PING"});
    return !(r.is_error() && r.str.substr(0, 7) == "LOADING");
  } catch (const std::exception&) {
    return false;
  }
}
}  // namespace

ServerTls server_tls(const TlsFiles& files, std::string auth_clients) {
  return ServerTls{files.ca, files.server, std::move(auth_clients), files.client, files.owner};
}

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free loopback port");
  }
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

RedisServer::RedisServer(RedisServerOptions options) : options_(std::move(options)) {
  if (options_.binary.empty()) {
    const char* env = std::getenv("FERRY_REDIS_SERVER");
    options_.binary = env && *env ? env : "redis-server";
  }
  std::string tmpl = (fs::temp_directory_path() / "ferry-redis-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temporary directory for redis-server");
  dir_ = tmpl;
  version_ = binary_version(options_.launcher, options_.binary);
  if (!options_.rdb_file.empty()) fs::copy_file(options_.rdb_file, fs::path(dir_) / "dump.rdb");
  for (const auto& [name, from] : options_.files) fs::copy(from, fs::path(dir_) / name, fs::copy_options::recursive);
  // Another process may take the port between our probe and the server's bind: try a few.
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (start_once(options_.port ? options_.port : free_loopback_port())) return;
    if (options_.port) break;
    if (log_tail().find("Address already in use") == std::string::npos) break;
  }
  std::string tail = log_tail();
  stop();
  std::error_code ec;
  fs::remove_all(dir_, ec);
  throw std::runtime_error(fmt::format("redis-server ({}) did not start; its log ends:\n{}", options_.binary, tail));
}

RedisServer::~RedisServer() {
  stop();
  if (!std::getenv("FERRY_KEEP_SERVER_DIRS")) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

bool RedisServer::start_once(int port) {
  std::vector<std::string> args;
  auto add = [&](std::string key, std::string value) {
    args.push_back("--" + std::move(key));
    args.push_back(std::move(value));
  };
  if (options_.tls) {
    add("port", "0");
    add("tls-port", std::to_string(port));
    add("tls-cert-file", options_.tls->cert.cert);
    add("tls-key-file", options_.tls->cert.key);
    add("tls-ca-cert-file", options_.tls->ca);
    add("tls-auth-clients", options_.tls->auth_clients);
    add("tls-replication", "yes");
    add("tls-cluster", "yes");
  } else {
    add("port", std::to_string(port));
  }
  add("bind", "127.0.0.1");
  add("dir", dir_);
  add("save", "");
  add("dbfilename", "dump.rdb");
  add("appendonly", "no");
  add("daemonize", "no");
  add("databases", std::to_string(options_.databases));
  add("repl-diskless-sync-delay", "0");
  // DEBUG is always on before 7.0, which does not know the option.
  if (options_.enable_debug && (version_ == 0 || version_ >= 70000)) add("enable-debug-command", "yes");
  if (options_.requirepass) add("requirepass", *options_.requirepass);
  if (options_.maxmemory) add("maxmemory", *options_.maxmemory);
  if (!options_.maxmemory_policy.empty()) add("maxmemory-policy", options_.maxmemory_policy);
  for (const auto& [k, v] : options_.config) add(k, v);
  std::vector<std::string> command = options_.launcher;
  command.push_back(options_.binary);
  for (const auto& user : options_.acl_users) {
    args.push_back("--user");
    std::istringstream words(user);
    for (std::string w; words >> w;) args.push_back(w);
  }
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  command.insert(command.end(), args.begin(), args.end());

  std::string exe = bp::search_path(command[0]).string();
  if (exe.empty()) exe = command[0];
  std::vector<std::string> rest(command.begin() + 1, command.end());
  try {
    child_ = std::make_unique<Child>(Child{bp::child(
        bp::exe = exe, bp::args = rest, (bp::std_out & bp::std_err) > log_path(), bp::std_in < bp::null,
        bp::extend::on_exec_setup = [](auto&) { ::prctl(PR_SET_PDEATHSIG, SIGKILL); })});
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("cannot run {}: {}", exe, e.what()));
  }
  pid_ = child_->process.id();
  port_ = port;

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!child_->process.running()) {
      child_->process.wait();
      child_.reset();
      pid_ = -1;
      return false;
    }
    if (answers_ping(endpoint())) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop();
  return false;
}

bool RedisServer::running() const { return child_ && const_cast<bp::child&>(child_->process).running(); }

void RedisServer::stop() {
  if (!child_) return;
  if (pid_ > 0) ::kill(pid_, SIGKILL);
  std::error_code ec;
  child_->process.wait(ec);
  child_.reset();
  pid_ = -1;
}

std::string RedisServer::uri(const std::string& user, const std::string& password) const {
  const char* scheme = options_.tls ? "rediss" : "redis";
  if (user.empty() && password.empty()) return fmt::format("{}://127.0.0.1:{}", scheme, port_);
  return fmt::format("{}://{}:{}@127.0.0.1:{}", scheme, user, password, port_);
}

std::vector<std::string> RedisServer::tls_flags(const std::string& role) const {
  if (!options_.tls) return {};
  std::vector<std::string> out{"--" + role + "-tls-ca", options_.tls->ca};
  if (!options_.tls->client.cert.empty())
    out.insert(out.end(), {"--" + role + "-tls-cert", options_.tls->client.cert, "--" + role + "-tls-key", options_.tls->client.key});
  return out;
}

Endpoint server_endpoint(const RedisServerOptions& options, int port, const std::string& role) {
  Endpoint ep;
  ep.role = role;
  ep.host = "127.0.0.1";
  ep.port = port;
  ep.password = options.requirepass;
  if (options.tls) {
    ep.tls.enabled = true;
    ep.tls.ca_file = options.tls->ca;
    ep.tls.cert_file = options.tls->client.cert;
    ep.tls.key_file = options.tls->client.key;
  }
  return ep;
}

Endpoint RedisServer::endpoint(const std::string& role) const { return server_endpoint(options_, port_, role); }

std::string RedisServer::log_tail(size_t bytes) const {
  std::ifstream in(log_path(), std::ios::binary);
  if (!in) return "(no log)";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

void wait_aof_rewritten(Connection& server, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    auto p = server.info("persistence");
    if (p["aof_enabled"] == "1" && p["aof_rewrite_in_progress"] == "0" && p["aof_rewrite_scheduled"] == "0") return;
    if (std::chrono::steady_clock::now() > until)
      throw std::runtime_error(fmt::format("{}: the AOF rewrite did not finish within {} s", server.describe(), seconds));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void rewrite_aof(Connection& server, double seconds) {
  server.checked({"BGREWRITEAOF"});
  wait_aof_rewritten(server, seconds);
}

void pause_aof_appends(Connection& server, bool paused) {
  server.checked({"DEBUG", "SET-ACTIVE-EXPIRE", paused ? "0" : "1"});
  // With appendfsync everysec a write waits while a background fsync runs (a busy disk), yet the
  // replies go out: the AOF is whole once the server's AOF buffer is empty.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto p = server.info("persistence");
    if (p["aof_enabled"] != "1" || p["aof_buffer_length"] == "0") return;
    if (std::chrono::steady_clock::now() > until)
      throw std::runtime_error(fmt::format("{}: the AOF buffer was not written within 30 s", server.describe()));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace ferry::sim
