// The parser's view of an RDB byte stream: buffered reads that count the offset, keep the running
// CRC64, can copy a value's bytes aside (for a RESTORE payload), and raise errors that say where.
#pragma once

#include "core/error.h"
#include "io/byte_source.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::rdb {

// A failure to read an RDB: always exit code 5. Truncated (the stream ended early: a retry or a
// resync may help) is told apart from corrupt (the bytes are wrong: fatal).
class RdbError : public FerryError {
 public:
  enum class Kind { Truncated, Corrupt };
  RdbError(Kind kind, const std::string& message, uint64_t offset)
      : FerryError(ExitCode::CorruptInput, message), kind_(kind), offset_(offset) {}
  Kind kind() const { return kind_; }
  uint64_t offset() const { return offset_; }

 private:
  Kind kind_;
  uint64_t offset_;
};

class RdbInput {
 public:
  explicit RdbInput(io::ByteSource& source);

  uint8_t u8();
  void read(void* out, size_t n);
  void skip(uint64_t n);
  uint64_t u64_le();
  uint32_t u32_le();
  // Reads exactly n bytes into a string, growing it as bytes arrive (a bogus length fails as
  // truncated, it never allocates the bogus size up front).
  std::string bytes(uint64_t n);
  // Nothing left to read?
  bool at_end();

  uint64_t offset() const { return offset_; }
  // The CRC64 of every byte read so far.
  uint64_t crc() const {
    fold_crc();
    return crc_;
  }
  // Bytes left when the source knows its size.
  std::optional<uint64_t> remaining() const;
  // Throws Corrupt when n is larger than what the source can still hold.
  void check_available(uint64_t n, const char* what);

  // While capturing, every byte read is appended to the sink, up to `limit`; past it the capture
  // stops and overflowed() says so.
  void start_capture(std::string* sink, size_t limit);
  void stop_capture() { sink_ = nullptr; }
  bool capture_overflowed() const { return overflowed_; }

  // Where errors say they happened, e.g. "DB 0, key 'user:1'".
  void set_context(std::string context) {
    context_ = std::move(context);
    context_key_.reset();
  }
  // Per key: kept raw, formatted only when an error names it.
  void set_key_context(int db, std::string_view key) {
    context_db_ = db;
    if (!context_key_) context_key_.emplace();
    context_key_->assign(key);
  }
  [[noreturn]] void corrupt(const std::string& what) const;
  [[noreturn]] void truncated(const std::string& what) const;
  const std::string& source_name() const { return source_name_; }

 private:
  void refill();
  void consumed(const char* p, size_t n);
  // The CRC runs over whole stretches of the buffer (per-read calls on a few bytes cost 6x more).
  void fold_crc() const;
  io::ByteSource& source_;
  std::string source_name_;
  std::vector<char> buffer_;
  size_t pos_ = 0, end_ = 0;
  uint64_t offset_ = 0;
  mutable uint64_t crc_ = 0;
  mutable size_t crc_pos_ = 0;  // buffer_[0, crc_pos_) is in crc_
  std::string context_;
  int context_db_ = 0;
  std::optional<std::string> context_key_;
  std::string describe_context() const;
  std::string* sink_ = nullptr;
  size_t limit_ = 0;
  bool overflowed_ = false;
};

}  // namespace ferry::rdb
