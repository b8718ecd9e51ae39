// The command part of one AOF file, read as redis-server's loader reads it (loadSingleAppendOnlyFile
// in src/aof.c), streaming: RESP arrays of bulk strings read by length (binary-safe), `#` annotation
// lines between commands (`#TS:<unix seconds>` with aof-timestamp-enabled), and nothing else. The
// bytes come through the one RESP command reader (resp/command_reader.h), so memory is bounded by
// the largest single command, whatever the file's size.
#pragma once

#include "aof/aof_files.h"
#include "io/byte_source.h"
#include "resp/command_reader.h"

#include <cstdint>
#include <optional>
#include <string>

namespace ferry::aof {

struct AofItem {
  enum class Kind { Command, Timestamp, Annotation } kind = Kind::Command;
  resp::Args args;         // Command
  long long timestamp = 0;  // Timestamp: the Unix seconds of a #TS: line
  bool malformed_timestamp = false;  // Annotation: a "#TS:" line whose time is not a number
  uint64_t offset = 0;      // where it starts in the file
  uint64_t end = 0;         // the offset after it
};

class AofCommandStream {
 public:
  // Reads `path` from byte `from` (after an RDB preamble); `name` names it in errors.
  AofCommandStream(const std::string& path, uint64_t from, std::string name);

  // The next item (true), or false at the end of the file. At the end, truncated() tells whether
  // the file ended inside a command (as redis-server's "short read"). Throws AofError naming the
  // file and offset for bytes that are not an AOF (redis-server: "Bad file format").
  bool next(AofItem& item);
  std::optional<uint64_t> truncated_at() const { return truncated_at_; }
  uint64_t size() const { return size_; }

 private:
  bool fill();
  io::FileSource file_;
  std::string name_;
  uint64_t from_;
  uint64_t size_ = 0;
  resp::CommandReader reader_;
  bool eof_ = false;
  std::optional<uint64_t> truncated_at_;
};

}  // namespace ferry::aof
