// Spooling of a replication link: a thread reads the socket at full speed into segment files and
// the parser and applier read from there, so a slow target never makes the source cut ferry off at
// its replica output-buffer limit. Memory stays bounded: consumed segments are deleted.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "redis/socket.h"

namespace ferry::repl {

class Spool {
 public:
  // Starts reading `socket` into files under a new directory in `parent`. The socket is read by
  // the spool's thread only from now on.
  Spool(Socket& socket, const std::string& parent, uint64_t segment_bytes = 64ull << 20);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Up to `max` spooled bytes; 0 when none arrived within `wait`. Once the socket failed and every
  // byte before the failure was read, throws std::runtime_error with the reason.
  size_t read(char* out, size_t max, std::chrono::milliseconds wait);
  uint64_t received() const { return received_.load(); }
  uint64_t pending() const { return received_.load() - consumed_; }

 private:
  struct Segment {
    std::string path;
    uint64_t written = 0;
    std::FILE* file = nullptr;
  };
  void run();
  Socket& socket_;
  std::string dir_;
  uint64_t segment_bytes_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Segment> segments_;  // front: being read; back: being written
  uint64_t read_offset_ = 0;      // in the front segment
  uint64_t consumed_ = 0;
  std::atomic<uint64_t> received_{0};
  std::optional<std::string> error_;
  std::atomic<bool> stop_{false};
  int next_segment_ = 0;
  std::thread thread_;
};

}  // namespace ferry::repl
