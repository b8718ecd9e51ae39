// A TCP proxy that injects faults between a client (ferry) and a server (redis-server), built on
// Boost.Asio with its own thread. Each connection has two directions (up: client -> server, down:
// server -> client); faults are added and removed at run time, each applying to one direction or
// both, from a time or from a byte position (see fault_spec.h). Random choices (latency jitter)
// come from the seed.
#pragma once

#include "proxy/fault_spec.h"

#include <cstdint>
#include <memory>
#include <string>

namespace ferry::sim {

struct FaultProxyOptions {
  int listen_port = 0;  // 0: a free loopback port
  uint64_t seed = 1;
};

struct ProxyStats {
  uint64_t connections = 0;  // accepted
  uint64_t bytes_up = 0;     // client -> server, forwarded
  uint64_t bytes_down = 0;   // server -> client, forwarded
  uint64_t resets = 0;       // connections ended with RST
  uint64_t closes = 0;       // connections ended with a close fault
  uint64_t refusals = 0;     // times the listening socket was closed by a refuse fault
};

class FaultProxy {
 public:
  // Listens on 127.0.0.1 and forwards each connection to host:port.
  FaultProxy(std::string host, int port, FaultProxyOptions options = {});
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const;
  std::string uri() const;  // redis://127.0.0.1:PORT

  // Returns an id for remove(). A reset or close without a byte trigger ends every open
  // connection when its time comes (at once without at=).
  int add(const FaultSpec& spec);
  int add(const std::string& spec) { return add(parse_fault_spec(spec)); }
  void remove(int id);
  void heal();  // removes every fault
  ProxyStats stats() const;

  struct Impl;  // the Asio side (fault_proxy.cpp)

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace ferry::sim
