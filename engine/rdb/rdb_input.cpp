#include "rdb/rdb_input.h"

#include "core/log.h"

#include "rdb/crc64.h"

#include <fmt/format.h>

#include <cstring>

namespace ferry::rdb {

RdbInput::RdbInput(io::ByteSource& source) : source_(source), source_name_(source.describe()), buffer_(64 * 1024) {}

void RdbInput::fold_crc() const {
  if (pos_ > crc_pos_) crc_ = crc64(crc_, buffer_.data() + crc_pos_, pos_ - crc_pos_);
  crc_pos_ = pos_;
}

void RdbInput::refill() {
  fold_crc();
  pos_ = 0;
  crc_pos_ = 0;
  end_ = source_.read_some(buffer_.data(), buffer_.size());
}

void RdbInput::consumed(const char* p, size_t n) {
  offset_ += n;
  if (sink_) {
    if (sink_->size() + n > limit_) {
      overflowed_ = true;
      sink_ = nullptr;
    } else {
      sink_->append(p, n);
    }
  }
}

uint8_t RdbInput::u8() {
  if (pos_ == end_) {
    refill();
    if (end_ == 0) truncated("the stream ended");
  }
  char c = buffer_[pos_++];
  consumed(&c, 1);
  return static_cast<uint8_t>(c);
}

void RdbInput::read(void* out, size_t n) {
  char* dst = static_cast<char*>(out);
  while (n > 0) {
    if (pos_ == end_) {
      refill();
      if (end_ == 0) truncated(fmt::format("the stream ended with {} more bytes expected", n));
    }
    size_t take = std::min(n, end_ - pos_);
    std::memcpy(dst, buffer_.data() + pos_, take);
    consumed(buffer_.data() + pos_, take);
    pos_ += take;
    dst += take;
    n -= take;
  }
}

void RdbInput::skip(uint64_t n) {
  while (n > 0) {
    if (pos_ == end_) {
      refill();
      if (end_ == 0) truncated(fmt::format("the stream ended with {} more bytes expected", n));
    }
    size_t take = static_cast<size_t>(std::min<uint64_t>(n, end_ - pos_));
    consumed(buffer_.data() + pos_, take);
    pos_ += take;
    n -= take;
  }
}

uint64_t RdbInput::u64_le() {
  unsigned char b[8];
  read(b, 8);
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

uint32_t RdbInput::u32_le() {
  unsigned char b[4];
  read(b, 4);
  return static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[1]) << 8) | (static_cast<uint32_t>(b[2]) << 16) |
         (static_cast<uint32_t>(b[3]) << 24);
}

std::string RdbInput::bytes(uint64_t n) {
  check_available(n, "string");
  std::string out;
  constexpr uint64_t kStep = 1 << 20;
  while (out.size() < n) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(kStep, n - out.size()));
    size_t at = out.size();
    out.resize(at + take);
    read(out.data() + at, take);
  }
  return out;
}

bool RdbInput::at_end() {
  if (pos_ < end_) return false;
  refill();
  return end_ == 0;
}

std::optional<uint64_t> RdbInput::remaining() const {
  auto size = source_.size();
  if (!size) return std::nullopt;
  return *size > offset_ ? *size - offset_ : 0;
}

void RdbInput::check_available(uint64_t n, const char* what) {
  if (auto left = remaining(); left && n > *left)
    truncated(fmt::format("a {} of {} bytes is announced but only {} bytes remain", what, n, *left));
}

void RdbInput::start_capture(std::string* sink, size_t limit) {
  sink_ = sink;
  limit_ = limit;
  overflowed_ = false;
}

void RdbInput::corrupt(const std::string& what) const {
  throw RdbError(RdbError::Kind::Corrupt,
                 fmt::format("corrupt RDB in {} at offset {}{}: {}", source_name_, offset_,
                             describe_context(), what),
                 offset_);
}

void RdbInput::truncated(const std::string& what) const {
  throw RdbError(RdbError::Kind::Truncated,
                 fmt::format("truncated RDB in {} at offset {}{}: {}", source_name_, offset_,
                             describe_context(), what),
                 offset_);
}

std::string RdbInput::describe_context() const {
  if (context_key_) return fmt::format(" (DB {}, key '{}')", context_db_, log::printable(*context_key_, 80));
  return context_.empty() ? "" : " (" + context_ + ")";
}

}  // namespace ferry::rdb
