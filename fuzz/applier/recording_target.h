// A stand-in target for the in-process applier property: it listens on a loopback port, answers
// every command with a success reply of the shape a client expects (PONG to PING, QUEUED inside
// MULTI, an array of OKs at EXEC, OK otherwise) and records what arrived, per connection, in order.
// It holds no data and models no Redis behaviour: the property compares what the applier sent with
// what the applier's rules say it must send.
#pragma once

#include "redis/endpoint.h"

#include <memory>
#include <string>
#include <vector>

namespace ferry::fuzz {

struct ReceivedCommand {
  int connection = 0;  // 1 for the first connection accepted, 2 for the next ...
  std::vector<std::string> args;
};

class RecordingTarget {
 public:
  RecordingTarget();  // serves in a thread of its own, one connection at a time
  ~RecordingTarget();
  RecordingTarget(const RecordingTarget&) = delete;
  RecordingTarget& operator=(const RecordingTarget&) = delete;

  Endpoint endpoint() const;
  // The version INFO answers with from now on ("7.0.15" at first).
  void set_version(const std::string& version);
  // What arrived so far. Complete for a client that has read every reply (a flushed applier).
  std::vector<ReceivedCommand> received() const;
  void clear();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::fuzz
