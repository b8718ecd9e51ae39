// Fuzz target: bytes as everything a source sends a replica: the handshake replies, +FULLRESYNC or
// +CONTINUE, the snapshot ($<len> or $EOF:<mark> framing, with keepalive newlines) and the command
// stream (RESP). A loopback listener plays the source: it sends the input and closes. ferry's
// replica link reads it as it reads a real source: clean errors are expected, anything else is a bug.
#include "core/error.h"
#include "io/byte_source.h"
#include "rdb/rdb_parser.h"
#include "repl/replica_link.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

int listener(int& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(fd, 16);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static int port = 0;
  static int fd = listener(port);
  std::string bytes(reinterpret_cast<const char*>(data), size);
  std::thread source([&] {
    int c = ::accept(fd, nullptr, nullptr);
    if (c < 0) return;
    for (size_t at = 0; at < bytes.size();) {
      ssize_t n = ::send(c, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n <= 0) break;
      at += static_cast<size_t>(n);
    }
    ::shutdown(c, SHUT_WR);
    char drain[4096];
    while (::recv(c, drain, sizeof drain, 0) > 0) {
    }
    ::close(c);
  });
  ferry::Endpoint ep;
  ep.role = "source";
  ep.port = port;
  ferry::Timeouts timeouts{std::chrono::milliseconds(1000), std::chrono::milliseconds(1000)};
  static const bool verbose = std::getenv("FERRY_FUZZ_VERBOSE") != nullptr;  // how far an input got
  size_t commands = 0;
  try {
    ferry::repl::ReplicaLink link(ferry::Dialer(timeouts), ep);
    link.handshake(false, 70000);
    auto psync = link.psync();
    if (psync.kind == ferry::repl::PsyncResult::Kind::FullResync) {
      auto snapshot = link.snapshot();
      ferry::rdb::RdbVisitor ignore;
      ferry::rdb::RdbParser parser(*snapshot, ignore);
      parser.parse();
    }
    std::vector<std::string> args;
    for (int i = 0; i < 100000 && link.read_command(args, std::chrono::milliseconds(50)); ++i) ++commands;
  } catch (const ferry::FerryError& e) {  // RdbError and LinkError included
    if (verbose) std::fprintf(stderr, "  stopped: %s\n", e.what());
  }
  if (verbose) std::fprintf(stderr, "  %zu commands read\n", commands);
  source.join();
  return 0;
}
