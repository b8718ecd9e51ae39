// A TCP connection to a server as a stream of bytes, with deadlines: every byte ferry sends to or
// reads from a server goes through one of these (request/reply connections, the replication link,
// its spool thread). TLS, when it comes, goes in here once.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ferry {

// The socket failed: refused, reset, closed by the peer, or a deadline passed. `what()` is a short
// reason ("connection refused", "read timed out"); callers add which server.
class SocketError : public std::runtime_error {
 public:
  enum class Kind { Failed, Closed, TimedOut };
  SocketError(Kind kind, const std::string& why) : std::runtime_error(why), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

class Socket {
 public:
  // Resolves `host` and connects within `timeout` (every address tried shares it).
  static std::unique_ptr<Socket> connect(const std::string& host, int port, std::chrono::milliseconds timeout);
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // Up to `max` bytes; 0 when none arrived within `wait`. Throws SocketError (Closed at end of stream).
  size_t read(char* out, size_t max, std::chrono::milliseconds wait);
  // Writes every byte, waiting at most `timeout` for the peer to take more.
  void write_all(std::string_view bytes, std::chrono::milliseconds timeout);

 private:
  explicit Socket(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace ferry
