// After a cutover (`--until-caught-up`) the source may go on taking writes that never reach the
// target: the most common false alarm of a verification right after it. CutoverWatch attaches to
// the source as a replica from the task's end offset (PSYNC <replid> <offset+1>: read-only, no
// snapshot) for the length of the verification, and collects the keys written since, so that
// their divergences are explained as `after-cutover`. When the source's backlog no longer covers
// the offset it says so, and verify goes on without it.
#pragma once

#include "redis/dialer.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>

namespace ferry {

namespace repl {
class ReplicaLink;
}

class CutoverWatch {
 public:
  // Where the task ended: the replication id, the offset the target holds and the stream's DB then.
  struct Position {
    std::string replid;
    long long offset = -1;
    int stream_db = 0;
  };

  // Attaches, or returns nullptr with `why_not` saying why (the backlog moved on, PSYNC refused ...).
  static std::unique_ptr<CutoverWatch> start(const Dialer& dialer, const Endpoint& source, const Position& at,
                                             std::string& why_not);
  ~CutoverWatch();

  // Waits (at most `seconds`) until the watch has read the stream up to `source_offset`.
  void catch_up(long long source_offset, double seconds);
  // Was this (source DB, printable key) written on the source after the cutover?
  bool written_since(int db, const std::string& printable_key) const;
  long long from_offset() const { return from_; }
  long long read_offset() const { return read_offset_.load(); }
  size_t keys() const;
  bool overflowed() const { return overflowed_.load(); }

 private:
  CutoverWatch(std::unique_ptr<repl::ReplicaLink> link, const Position& at);
  void run();
  void note(int db, const std::string& key);

  std::unique_ptr<repl::ReplicaLink> link_;
  long long from_;
  int stream_db_;
  std::atomic<long long> read_offset_;
  std::atomic<bool> stop_{false}, overflowed_{false};
  mutable std::mutex mu_;
  std::set<std::pair<int, std::string>> written_;
  std::thread thread_;
  static constexpr size_t kMaxKeys = 1'000'000;
};

}  // namespace ferry
