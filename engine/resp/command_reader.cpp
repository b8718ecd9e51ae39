#include "resp/command_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace ferry::resp {
namespace {

void put_length(std::string& out, char kind, size_t n) {
  char head[32];
  head[0] = kind;
  auto [end, ec] = std::to_chars(head + 1, head + sizeof head - 2, n);
  end[0] = '\r';
  end[1] = '\n';
  out.append(head, static_cast<size_t>(end + 2 - head));
}

// The decimal number of a header line ("*3", "$5") from `from` to `end`; false when it is not one.
bool parse_number(std::string_view text, long long& value) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

void append_command(std::string& out, const Args& args) {
  size_t size = 16;
  for (const auto& a : args) size += a.size() + 24;
  out.reserve(out.size() + size);
  put_length(out, '*', args.size());
  for (const auto& a : args) {
    put_length(out, '$', a.size());
    out.append(a);
    out.append("\r\n", 2);
  }
}

std::string encode_command(const Args& args) {
  std::string resp;
  append_command(resp, args);
  return resp;
}

void CommandReader::compact() {
  if (pos_ == 0) return;
  if (pos_ == buffer_.size()) {
    dropped_ += pos_;
    buffer_.clear();
    need_ = 0;
    pos_ = 0;
  } else if (pos_ > (1 << 20) || pos_ > buffer_.size() / 2) {
    dropped_ += pos_;
    buffer_.erase(0, pos_);
    need_ = need_ > pos_ ? need_ - pos_ : 0;
    pos_ = 0;
  }
}

void CommandReader::feed(std::string_view bytes) {
  compact();
  buffer_.append(bytes);
}

char* CommandReader::prepare(size_t want) {
  compact();
  size_t old = buffer_.size();
  buffer_.resize(old + want);
  prepared_ = want;
  return buffer_.data() + old;
}

void CommandReader::commit(size_t filled) {
  buffer_.resize(buffer_.size() - prepared_ + std::min(filled, prepared_));
  prepared_ = 0;
}

void CommandReader::consume(size_t n) {
  pos_ += std::min(n, buffered());
  if (need_ < pos_) need_ = 0;
}

void CommandReader::corrupt(const std::string& what, size_t at) const {
  throw RespError(fmt::format("{} at byte {} of the command stream", what, dropped_ + at), dropped_ + at, what);
}

bool CommandReader::read_line(std::string& line) {
  auto nl = buffer_.find('\n', pos_);
  if (nl == std::string::npos) {
    if (buffered() > options_.max_line) corrupt(fmt::format("a line longer than {} bytes", options_.max_line), pos_);
    return false;
  }
  line.assign(buffer_, pos_, nl - pos_);
  pos_ = nl + 1;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

bool CommandReader::next(Args& args) {
  // Parses from the buffer without consuming until a whole command is there. need_ remembers how
  // much must have arrived before a new attempt can get further (no reparsing per chunk).
  while (pos_ < buffer_.size() && buffer_[pos_] == '\n' && options_.keepalive_newlines) ++pos_;
  if (buffer_.size() < need_ || pos_ >= buffer_.size()) return false;
  const size_t start = pos_;
  if (buffer_[start] != '*')
    corrupt(fmt::format("unexpected byte 0x{:02x} where a command should start", static_cast<unsigned char>(buffer_[start])),
            start);
  auto header = [&](size_t at, long long& value) -> size_t {  // the index after its \r\n, or npos
    size_t e = buffer_.find("\r\n", at);
    if (e == std::string::npos) {
      if (buffer_.size() - at > options_.max_line) corrupt("a header line without its end", at);
      need_ = buffer_.size() + 1;
      return std::string::npos;
    }
    if (!parse_number(std::string_view(buffer_).substr(at + 1, e - at - 1), value))
      corrupt(fmt::format("a malformed length '{}'", buffer_.substr(at, std::min<size_t>(e - at, 24))), at);
    return e + 2;
  };
  long long count = 0;
  size_t q = header(start, count);
  if (q == std::string::npos) return false;
  if (count < 1 || count > options_.max_arguments) corrupt(fmt::format("a command of {} arguments", count), start);
  args.clear();
  // Each argument takes at least 4 bytes ("$0\r\n"): a header cannot make it reserve more than the
  // bytes at hand hold.
  args.reserve(static_cast<size_t>(std::min<long long>(count, static_cast<long long>(buffer_.size() - q) / 4 + 1)));
  for (long long i = 0; i < count; ++i) {
    if (q >= buffer_.size()) {
      need_ = q + 1;
      return false;
    }
    if (buffer_[q] != '$') corrupt("a bulk string ('$') expected", q);
    long long len = 0;
    size_t body = header(q, len);
    if (body == std::string::npos) return false;
    if (len < 0 || len > (1LL << 32)) corrupt(fmt::format("a bulk string of {} bytes", len), q);
    size_t end = body + static_cast<size_t>(len);
    if (buffer_.size() < end + 2) {
      need_ = end + 2;
      return false;
    }
    if (buffer_[end] != '\r' || buffer_[end + 1] != '\n') corrupt("a bulk string not followed by \\r\\n", end);
    args.emplace_back(buffer_, body, static_cast<size_t>(len));
    q = end + 2;
  }
  command_bytes_ += q - start;
  pos_ = q;
  need_ = 0;
  return true;
}

}  // namespace ferry::resp
