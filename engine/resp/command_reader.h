// RESP commands as bytes: the encoder every connection writes with, and the reader for bytes that
// hold commands (the replication stream, a spool file, an AOF file). The reader is fed bytes as
// they arrive from wherever they come and parses without I/O of its own, so one parser serves a
// socket, a spool and a file alike; it counts the bytes of each command (the replication offset).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::resp {

using Args = std::vector<std::string>;

// A command as RESP: an array of bulk strings.
std::string encode_command(const Args& args);
// Appends it to `out` (no intermediate string).
void append_command(std::string& out, const Args& args);

// The bytes are not RESP commands. `offset`: where in the input (counted from the first byte fed).
class RespError : public std::runtime_error {
 public:
  RespError(const std::string& message, uint64_t offset, std::string detail = {})
      : std::runtime_error(message), offset_(offset), detail_(std::move(detail)) {}
  uint64_t offset() const { return offset_; }
  // What is wrong, without where ("a malformed length '$x'").
  const std::string& detail() const { return detail_; }

 private:
  uint64_t offset_;
  std::string detail_;
};

class CommandReader {
 public:
  struct Options {
    // Replication: a bare "\n" between commands is a keepalive, part of no command (not counted in
    // command_bytes()).
    bool keepalive_newlines = true;
    size_t max_line = 64 * 1024;  // a longer header line is corrupt input
    long long max_arguments = 1LL << 20;  // a command with more is corrupt input
  };
  CommandReader() : CommandReader(Options{}) {}
  explicit CommandReader(Options options) : options_(options) {}

  // Appends bytes that arrived.
  void feed(std::string_view bytes);
  // Buffer space for the next read (at least `want` bytes); then commit() how many were filled.
  char* prepare(size_t want);
  void commit(size_t filled);

  // The next whole command into `args` (true), or false when its bytes have not all arrived (nothing
  // is consumed then; the next call after more bytes goes on from where it stopped looking).
  bool next(Args& args);
  // Bytes of the commands returned so far (keepalives and raw reads not included).
  uint64_t command_bytes() const { return command_bytes_; }

  // Raw reads, for what comes before a stream (handshake replies, a snapshot's bytes).
  // A line without its "\r\n" or "\n"; false when no whole line has arrived.
  bool read_line(std::string& line);
  // Bytes available now, without consuming them.
  std::string_view peek() const { return std::string_view(buffer_).substr(pos_); }
  void consume(size_t n);
  // The input starts at byte `origin` of something bigger (a file read from an offset): positions
  // and error offsets count from there. Before the first feed.
  void set_origin(uint64_t origin) { dropped_ = origin; }

  size_t buffered() const { return buffer_.size() - pos_; }
  // Offset of the next unread byte, counted from the first byte fed.
  uint64_t position() const { return dropped_ + pos_; }

 private:
  void compact();
  [[noreturn]] void corrupt(const std::string& what, size_t at) const;

  Options options_;
  std::string buffer_;
  size_t pos_ = 0;
  size_t need_ = 0;       // buffer size needed before a new parse attempt can get further
  uint64_t dropped_ = 0;  // bytes removed from the front of buffer_ by compaction
  uint64_t command_bytes_ = 0;
  size_t prepared_ = 0;   // bytes prepare() added that commit() has not settled
};

}  // namespace ferry::resp
