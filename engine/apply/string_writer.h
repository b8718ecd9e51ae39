// Writes plain strings (no LRU/LFU metadata to carry) at the rate a target applies them: a target
// applies a batch MSETNX of many keys at about the cost of one SET, and a SET several times faster
// than a RESTORE. Used by the RDB importer (snapshots, files) and the scan copier.
#pragma once

#include "redis/connection.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ferry {

class StringWriter {
 public:
  // What happened to each key, by its source DB and name.
  struct Callbacks {
    std::function<void(int db, const std::string& key)> written;
    std::function<void(int db, const std::string& key)> conflict;  // exists, not overwritten
    std::function<void(int db, const std::string& key, const std::string& error)> failed;
  };

  // replace: MSET and SET (--on-conflict replace), else MSETNX and SET ... NX.
  StringWriter(Pipeline& target, bool replace, Callbacks callbacks);

  // Whether a key with an expiry can travel as SET ... PXAT (Redis 6.2+); without one it always can.
  static bool takes_expiry(int target_version) { return target_version >= 60200; }

  // Keys without an expiry join the batch; a key with one goes at once as SET key value PXAT ms.
  // The target's selected DB is the one written: call drain() before selecting another.
  void add(int db, std::string key, std::string value, std::optional<long long> expire_ms);
  // Sends the batch now (its replies stay outstanding in the pipeline).
  void flush();
  // Sends the batch and reads every reply; the keys of a batch the target refused because one of
  // them exists go again key by key, so each conflict is counted and named.
  void drain();

 private:
  void set_one(int db, std::string key, std::string value, std::optional<long long> expire_ms);

  Pipeline& pipe_;
  bool replace_;
  Callbacks on_;
  int batch_db_ = 0;
  Args batch_;  // MSETNX key value key value ... (one DB)
  std::vector<std::pair<int, Args>> retry_;
  size_t batch_bytes_ = 0;
};

}  // namespace ferry
