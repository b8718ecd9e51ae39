#include "redis/socket.h"

#include <fmt/format.h>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

}  // namespace

std::unique_ptr<Socket> Socket::connect(const std::string& host, int port, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
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
  return std::unique_ptr<Socket>(new Socket(connected));
}

Socket::~Socket() { ::close(fd_); }

size_t Socket::read(char* out, size_t max, std::chrono::milliseconds wait) {
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

}  // namespace ferry
