// Writes plain strings (no LRU/LFU metadata to carry) at the rate a target applies them: a target
// applies a batch MSETNX of many keys at about the cost of one SET, and a SET several times faster
// than a RESTORE. The key sink's path for plain strings.
#pragma once

#include "target/target.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ferry {

class StringWriter {
 public:
  // What happened to each key, by the DB the caller named it with (the source's) and its name.
  struct Callbacks {
    std::function<void(int db, const std::string& key, size_t bytes)> written;
    std::function<void(int db, const std::string& key)> conflict;  // exists, not overwritten
    std::function<void(int db, const std::string& key, const std::string& error)> failed;
  };

  // replace: MSET and SET (--on-conflict replace), else MSETNX and SET ... NX.
  StringWriter(Target& target, bool replace, Callbacks callbacks);

  // Writes `key` into target DB `target_db`. Keys without an expiry join the batch (one per target
  // DB: a key for another DB sends it first); a key with one goes at once as SET key value PXAT ms.
  void add(int db, int target_db, std::string key, std::string value, std::optional<long long> expire_ms);
  // Sends the batch now (its replies stay outstanding in the pipeline).
  void flush();
  // Sends the batch and reads every reply; the keys of a batch the target refused because one of
  // them exists go again key by key, so each conflict is counted and named.
  void drain();

 private:
  void set_one(int db, int target_db, std::string key, std::string value, std::optional<long long> expire_ms);

  Target& target_;
  bool replace_;
  Callbacks on_;
  int batch_db_ = 0, batch_target_db_ = 0;
  Args batch_;  // MSETNX key value key value ... (one DB)
  struct Retry {
    int db, target_db;
    Args batch;
  };
  std::vector<Retry> retry_;
  size_t batch_bytes_ = 0;
};

}  // namespace ferry
