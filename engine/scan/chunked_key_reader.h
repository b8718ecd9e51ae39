// Reads one key from a source in windows (GETRANGE, LRANGE, HSCAN, SSCAN, ZSCAN, XRANGE, XPENDING)
// and hands each window to a NativeWriter: the key is never held whole in memory.
#pragma once

#include <stdexcept>

#include "apply/native_writer.h"
#include "redis/connection.h"

namespace ferry {

struct ChunkLimits {
  size_t elements = 1000;         // per LRANGE/xSCAN/XRANGE window
  size_t string_bytes = 1 << 20;  // per GETRANGE window
};

// The key holds data the writer's target cannot hold (per-field expiry on a target before 7.4):
// nothing of it should be committed.
class UnsupportedValue : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ChunkedKeyReader {
 public:
  ChunkedKeyReader(Connection& source, ChunkLimits limits) : source_(source), limits_(limits) {}

  // Copies `key` (in the source's selected DB) of the given type into `writer`, which the caller
  // has begun. Returns false when the key vanished from the source while being read. Hash fields'
  // expiries (Redis 7.4+ sources) travel too; throws UnsupportedValue when the writer cannot hold them.
  bool copy(const std::string& key, KeyType type, NativeWriter& writer);

 private:
  bool copy_string(const std::string& key, NativeWriter& writer);
  bool copy_list(const std::string& key, NativeWriter& writer);
  bool copy_scanned(const std::string& key, KeyType type, NativeWriter& writer);
  bool copy_stream(const std::string& key, NativeWriter& writer);
  void copy_stream_groups(const std::string& key, NativeWriter& writer);
  // The absolute expiries (ms) of those of `fields` that have one; throws UnsupportedValue when
  // there are some and the target cannot hold them.
  std::vector<std::pair<std::string, long long>> field_expiries(const std::string& key, const std::vector<FieldValue>& fields,
                                                                bool target_holds_them);
  Connection& source_;
  ChunkLimits limits_;
};

// "1526919030474-55" -> "1526919030474-56": the exclusive start of the next window (works before 6.2).
std::string next_stream_id(const std::string& id);

}  // namespace ferry
