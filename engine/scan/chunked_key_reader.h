// Reads one key from a source in windows (GETRANGE, LRANGE, HSCAN, SSCAN, ZSCAN, XRANGE, XPENDING)
// and hands each window to a NativeWriter: the key is never held whole in memory.
#pragma once

#include "redis/connection.h"
#include "sink/native_writer.h"
#include "task/copy_options.h"

namespace ferry {

class ChunkedKeyReader {
 public:
  ChunkedKeyReader(Connection& source, ChunkLimits limits) : source_(source), limits_(limits) {}

  // Copies `key` (in the source's selected DB) of the given type into `writer`, which the caller
  // has begun. Returns false when the key vanished from the source while being read. Hash fields'
  // expiries (Redis 7.4+ sources) travel too (the writer throws UnsupportedValue when the target
  // cannot hold them).
  bool copy(const std::string& key, KeyType type, NativeWriter& writer);

 private:
  bool copy_string(const std::string& key, NativeWriter& writer);
  bool copy_list(const std::string& key, NativeWriter& writer);
  bool copy_scanned(const std::string& key, KeyType type, NativeWriter& writer);
  bool copy_stream(const std::string& key, NativeWriter& writer);
  void copy_stream_groups(const std::string& key, NativeWriter& writer);
  // The absolute expiries (ms) of those of `fields` that have one.
  std::vector<std::pair<std::string, long long>> field_expiries(const std::string& key, const std::vector<FieldValue>& fields);
  Connection& source_;
  ChunkLimits limits_;
};

// "1526919030474-55" -> "1526919030474-56": the exclusive start of the next window (works before 6.2).
std::string next_stream_id(const std::string& id);

}  // namespace ferry
