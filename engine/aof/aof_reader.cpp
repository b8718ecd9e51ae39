#include "aof/aof_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace ferry::aof {
namespace {

constexpr size_t kReadChunk = 1 << 20;
// AOF_ANNOTATION_LINE_MAX_LEN in src/aof.c: the loader's line buffer (a longer annotation would be
// read on as the next line, which is then not a command).
constexpr size_t kAnnotationMax = 1023;  // with its "\n"

resp::CommandReader::Options reader_options() {
  resp::CommandReader::Options o;
  o.keepalive_newlines = false;  // a bare newline in an AOF is a format error
  o.max_arguments = 0x7fffffff;  // a client may send millions of arguments (SADD ...); Redis logs them whole
  return o;
}

}  // namespace

AofCommandStream::AofCommandStream(const std::string& path, uint64_t from, std::string name)
    : file_(path, from), name_(std::move(name)), from_(from), reader_(reader_options()) {
  size_ = file_.size().value_or(0);
  reader_.set_origin(from);
}

bool AofCommandStream::fill() {
  if (eof_) return false;
  // At most what is left of the file (a small file costs no 1 MB buffer), at least a page.
  const uint64_t at = reader_.position() + reader_.buffered();
  const size_t want = static_cast<size_t>(std::clamp<uint64_t>(size_ > at ? size_ - at + 1 : 4096, 4096, kReadChunk));
  char* p = reader_.prepare(want);
  size_t n = file_.read_some(p, want);
  reader_.commit(n);
  if (n == 0) eof_ = true;
  return n > 0;
}

bool AofCommandStream::next(AofItem& item) {
  while (true) {
    std::string_view buffered = reader_.peek();
    if (buffered.empty()) {
      if (fill()) continue;
      return false;
    }
    const uint64_t start = reader_.position();
    if (buffered[0] == '#') {
      // An annotation: one line as the loader's fgets reads it (at most kAnnotationMax bytes with
      // its "\n"); a longer one is a format error there, the rest being read as a command.
      const size_t nl = buffered.find('\n');
      if (nl == std::string_view::npos) {
        if (buffered.size() < kAnnotationMax && fill()) continue;
        if (buffered.size() >= kAnnotationMax)
          throw AofError(fmt::format("{}: not an AOF at offset {}: an annotation line longer than {} bytes (redis-server "
                                     "reads on as a command: \"Bad file format\")",
                                     name_, start, kAnnotationMax - 1));
        // The file ends in an annotation without its newline: skipped, as Redis does (never a
        // timestamp: it may be cut). fill() may have moved the buffer: read the view anew.
        const size_t rest = reader_.peek().size();
        reader_.consume(rest);
        item = AofItem{};
        item.kind = AofItem::Kind::Annotation;
        item.offset = start;
        item.end = start + rest;
        return true;
      }
      if (nl + 1 > kAnnotationMax)
        throw AofError(fmt::format("{}: not an AOF at offset {}: an annotation line longer than {} bytes (redis-server "
                                   "reads on as a command: \"Bad file format\")",
                                   name_, start, kAnnotationMax - 1));
      std::string_view line = buffered.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      item = AofItem{};
      item.kind = AofItem::Kind::Annotation;
      item.offset = start;
      item.end = start + nl + 1;
      if (line.substr(0, 4) == "#TS:") {
        long long ts = 0;
        const char* b = line.data() + 4;
        const char* e = line.data() + line.size();
        auto [ptr, ec] = std::from_chars(b, e, ts);
        if (ec == std::errc() && ptr == e && ptr != b && ts >= 0) {
          item.kind = AofItem::Kind::Timestamp;
          item.timestamp = ts;
        } else {
          item.malformed_timestamp = true;
        }
      }
      reader_.consume(nl + 1);
      return true;
    }
    if (buffered[0] != '*')
      throw AofError(fmt::format("{}: not an AOF at offset {}: byte 0x{:02x} where a command ('*') or an annotation ('#') "
                                 "should start (redis-server: \"Bad file format reading the append only file\")",
                                 name_, start, static_cast<unsigned char>(buffered[0])));
    try {
      if (reader_.next(item.args)) {
        item.kind = AofItem::Kind::Command;
        item.offset = start;
        item.end = reader_.position();
        return true;
      }
    } catch (const resp::RespError& e) {
      throw AofError(fmt::format("{}: not an AOF at offset {}: {} (in the command from offset {})", name_, e.offset(),
                                 e.detail(), start));
    }
    if (fill()) continue;
    truncated_at_ = start;  // the file ends inside this command
    return false;
  }
}

}  // namespace ferry::aof
