#include "applier/recording_target.h"

#include "core/error.h"
#include "redis/command_keys.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>

namespace ferry::fuzz {
namespace {

// One complete RESP array of bulk strings from the front of `buf` (consumed), or nullopt when more
// bytes are needed. Clients (hiredis) send nothing else.
std::optional<std::vector<std::string>> take_command(std::string& buf) {
  size_t pos = 0;
  auto line = [&]() -> std::optional<std::string> {
    size_t end = buf.find("\r\n", pos);
    if (end == std::string::npos) return std::nullopt;
    std::string l = buf.substr(pos, end - pos);
    pos = end + 2;
    return l;
  };
  auto head = line();
  if (!head) return std::nullopt;
  if (head->empty() || (*head)[0] != '*') throw FerryError(ExitCode::Failed, "recording target: not a RESP array: " + *head);
  long count = std::strtol(head->c_str() + 1, nullptr, 10);
  std::vector<std::string> args;
  for (long i = 0; i < count; ++i) {
    auto len_line = line();
    if (!len_line) return std::nullopt;
    size_t len = std::strtoul(len_line->c_str() + 1, nullptr, 10);
    if (buf.size() < pos + len + 2) return std::nullopt;
    args.push_back(buf.substr(pos, len));
    pos += len + 2;
  }
  buf.erase(0, pos);
  return args;
}

}  // namespace

struct RecordingTarget::Impl {
  int listen_fd = -1;
  int port = 0;
  std::atomic<int> conn_fd{-1};
  std::atomic<bool> stopping{false};
  mutable std::mutex mu;
  std::vector<ReceivedCommand> received;
  std::string version = "7.0.15";
  std::thread thread;

  void serve() {
    int connection = 0;
    while (!stopping) {
      int fd = ::accept(listen_fd, nullptr, nullptr);
      if (fd < 0) return;  // closed by the destructor
      conn_fd = fd;
      ++connection;
      serve_connection(fd, connection);
      conn_fd = -1;
      ::close(fd);
    }
  }

  void serve_connection(int fd, int connection) {
    std::string buf, out;
    bool in_multi = false;
    size_t queued = 0;
    char chunk[65536];
    for (;;) {
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return;
      buf.append(chunk, static_cast<size_t>(n));
      out.clear();
      while (auto args = take_command(buf)) {
        std::string name = args->empty() ? "" : ascii_upper((*args)[0]);
        if (name == "INFO") {  // a question (the server's version), not a write: answered as Redis 7.0, not recorded
          std::string info;
          {
            std::lock_guard lock(mu);
            info = "# Server\r\nredis_version:" + version + "\r\n";
          }
          out += "$" + std::to_string(info.size()) + "\r\n" + info + "\r\n";
          continue;
        }
        if (name == "CLIENT" || name == "MODULE") {  // the dialer naming its connection, the modules asked: not recorded
          out += name == "MODULE" ? "*0\r\n" : "+OK\r\n";
          continue;
        }
        if (name == "PING") out += "+PONG\r\n";
        else if (name == "MULTI") in_multi = true, queued = 0, out += "+OK\r\n";
        else if (name == "EXEC") {
          out += "*" + std::to_string(queued) + "\r\n";
          for (size_t i = 0; i < queued; ++i) out += "+OK\r\n";
          in_multi = false;
        } else if (in_multi) ++queued, out += "+QUEUED\r\n";
        else out += "+OK\r\n";
        std::lock_guard lock(mu);
        received.push_back({connection, std::move(*args)});
      }
      for (size_t sent = 0; sent < out.size();) {
        ssize_t w = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (w <= 0) return;
        sent += static_cast<size_t>(w);
      }
    }
  }
};

RecordingTarget::RecordingTarget() : impl_(std::make_unique<Impl>()) {
  impl_->listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (impl_->listen_fd < 0 || ::bind(impl_->listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(impl_->listen_fd, 4) != 0 || ::getsockname(impl_->listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw FerryError(ExitCode::Failed, "recording target: cannot listen on a loopback port");
  impl_->port = ntohs(addr.sin_port);
  impl_->thread = std::thread([this] { impl_->serve(); });
}

RecordingTarget::~RecordingTarget() {
  impl_->stopping = true;
  ::shutdown(impl_->listen_fd, SHUT_RDWR);
  int fd = impl_->conn_fd.load();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  impl_->thread.join();
  ::close(impl_->listen_fd);
}

Endpoint RecordingTarget::endpoint() const {
  Endpoint ep;
  ep.role = "target";
  ep.port = impl_->port;
  return ep;
}

std::vector<ReceivedCommand> RecordingTarget::received() const {
  std::lock_guard lock(impl_->mu);
  return impl_->received;
}

void RecordingTarget::set_version(const std::string& version) {
  std::lock_guard lock(impl_->mu);
  impl_->version = version;
}

void RecordingTarget::clear() {
  std::lock_guard lock(impl_->mu);
  impl_->received.clear();
}

}  // namespace ferry::fuzz
