#include "rdb/encodings.h"

#include <fmt/format.h>

#include <cstring>

namespace ferry::rdb {
namespace {

uint32_t le32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

int64_t le_signed(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  if (bytes < 8 && (v >> (bytes * 8 - 1)) & 1) v |= ~uint64_t{0} << (bytes * 8);  // sign-extend
  return static_cast<int64_t>(v);
}

// A bounds-checked cursor over a blob.
struct Cursor {
  const unsigned char* p;
  const unsigned char* end;
  const char* what;
  void need(size_t n) const {
    if (static_cast<size_t>(end - p) < n) throw EncodingError(fmt::format("{} ends inside an entry", what));
  }
  uint8_t u8() {
    need(1);
    return *p++;
  }
  const unsigned char* take(size_t n) {
    need(n);
    const unsigned char* at = p;
    p += n;
    return at;
  }
};

}  // namespace

std::vector<std::string> ziplist_entries(std::string_view blob) {
  Cursor c{reinterpret_cast<const unsigned char*>(blob.data()), reinterpret_cast<const unsigned char*>(blob.data()) + blob.size(), "ziplist"};
  if (blob.size() < 11) throw EncodingError("ziplist shorter than its header");
  uint32_t zlbytes = le32(c.take(4));
  if (zlbytes != blob.size()) throw EncodingError(fmt::format("ziplist says {} bytes but holds {}", zlbytes, blob.size()));
  uint32_t zltail = le32(c.take(4));
  if (zltail >= blob.size()) throw EncodingError("ziplist tail offset out of range");
  const unsigned char* count_bytes = c.take(2);
  uint16_t count = static_cast<uint16_t>(count_bytes[0] | (count_bytes[1] << 8));
  std::vector<std::string> out;
  size_t prev_entry_len = 0;
  for (;;) {
    const unsigned char* entry_start = c.p;
    uint8_t first = c.u8();
    if (first == 0xFF) break;
    size_t prevlen = first;
    if (first == 0xFE) prevlen = le32(c.take(4));
    if (prevlen != prev_entry_len) throw EncodingError("ziplist prevlen does not match the previous entry");
    uint8_t enc = c.u8();
    switch (enc >> 6) {
      case 0: out.emplace_back(reinterpret_cast<const char*>(c.take(enc & 0x3f)), enc & 0x3f); break;
      case 1: {
        size_t len = (static_cast<size_t>(enc & 0x3f) << 8) | c.u8();
        out.emplace_back(reinterpret_cast<const char*>(c.take(len)), len);
        break;
      }
      case 2: {
        if (enc != 0x80) throw EncodingError(fmt::format("ziplist string encoding 0x{:02x} unknown", enc));
        const unsigned char* b = c.take(4);
        size_t len = (static_cast<size_t>(b[0]) << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
        out.emplace_back(reinterpret_cast<const char*>(c.take(len)), len);
        break;
      }
      default:
        switch (enc) {
          case 0xC0: out.push_back(std::to_string(le_signed(c.take(2), 2))); break;
          case 0xD0: out.push_back(std::to_string(le_signed(c.take(4), 4))); break;
          case 0xE0: out.push_back(std::to_string(le_signed(c.take(8), 8))); break;
          case 0xF0: out.push_back(std::to_string(le_signed(c.take(3), 3))); break;
          case 0xFE: out.push_back(std::to_string(le_signed(c.take(1), 1))); break;
          default:
            if (enc >= 0xF1 && enc <= 0xFD) out.push_back(std::to_string((enc & 0x0f) - 1));
            else throw EncodingError(fmt::format("ziplist integer encoding 0x{:02x} unknown", enc));
        }
    }
    prev_entry_len = static_cast<size_t>(c.p - entry_start);
  }
  if (c.p != c.end) throw EncodingError("ziplist has bytes after its end marker");
  if (count != 0xFFFF && count != out.size())
    throw EncodingError(fmt::format("ziplist says {} entries but holds {}", count, out.size()));
  return out;
}

std::vector<std::string> listpack_entries(std::string_view blob) {
  Cursor c{reinterpret_cast<const unsigned char*>(blob.data()), reinterpret_cast<const unsigned char*>(blob.data()) + blob.size(), "listpack"};
  if (blob.size() < 7) throw EncodingError("listpack shorter than its header");
  uint32_t total = le32(c.take(4));
  if (total != blob.size()) throw EncodingError(fmt::format("listpack says {} bytes but holds {}", total, blob.size()));
  const unsigned char* count_bytes = c.take(2);
  uint16_t count = static_cast<uint16_t>(count_bytes[0] | (count_bytes[1] << 8));
  std::vector<std::string> out;
  for (;;) {
    const unsigned char* start = c.p;
    uint8_t b = c.u8();
    if (b == 0xFF) break;
    if ((b & 0x80) == 0) {
      out.push_back(std::to_string(b & 0x7f));
    } else if ((b & 0xC0) == 0x80) {
      size_t len = b & 0x3f;
      out.emplace_back(reinterpret_cast<const char*>(c.take(len)), len);
    } else if ((b & 0xE0) == 0xC0) {
      int64_t v = (static_cast<int64_t>(b & 0x1f) << 8) | c.u8();
      if (v >= (1 << 12)) v -= (1 << 13);
      out.push_back(std::to_string(v));
    } else if ((b & 0xF0) == 0xE0) {
      size_t len = (static_cast<size_t>(b & 0x0f) << 8) | c.u8();
      out.emplace_back(reinterpret_cast<const char*>(c.take(len)), len);
    } else {
      switch (b) {
        case 0xF0: {
          size_t len = le32(c.take(4));
          out.emplace_back(reinterpret_cast<const char*>(c.take(len)), len);
          break;
        }
        case 0xF1: out.push_back(std::to_string(le_signed(c.take(2), 2))); break;
        case 0xF2: out.push_back(std::to_string(le_signed(c.take(3), 3))); break;
        case 0xF3: out.push_back(std::to_string(le_signed(c.take(4), 4))); break;
        case 0xF4: out.push_back(std::to_string(le_signed(c.take(8), 8))); break;
        default: throw EncodingError(fmt::format("listpack encoding 0x{:02x} unknown", b));
      }
    }
    // backlen: the size of encoding+data, 7 bits per byte.
    size_t entry = static_cast<size_t>(c.p - start);
    size_t backlen = entry < 128 ? 1 : entry < 16384 ? 2 : entry < 2097152 ? 3 : entry < 268435456 ? 4 : 5;
    c.take(backlen);
  }
  if (c.p != c.end) throw EncodingError("listpack has bytes after its end marker");
  if (count != 0xFFFF && count != out.size())
    throw EncodingError(fmt::format("listpack says {} entries but holds {}", count, out.size()));
  return out;
}

std::vector<std::string> intset_members(std::string_view blob) {
  if (blob.size() < 8) throw EncodingError("intset shorter than its header");
  auto* p = reinterpret_cast<const unsigned char*>(blob.data());
  uint32_t width = le32(p), length = le32(p + 4);
  if (width != 2 && width != 4 && width != 8) throw EncodingError(fmt::format("intset element width {} unknown", width));
  if (blob.size() != 8 + static_cast<uint64_t>(width) * length)
    throw EncodingError(fmt::format("intset of {} x {} bytes has {} bytes", length, width, blob.size()));
  std::vector<std::string> out;
  out.reserve(length);
  int64_t prev = 0;
  for (uint32_t i = 0; i < length; ++i) {
    int64_t v = le_signed(p + 8 + i * width, static_cast<int>(width));
    if (i > 0 && v <= prev) throw EncodingError("intset is not sorted");
    prev = v;
    out.push_back(std::to_string(v));
  }
  return out;
}

std::vector<std::string> zipmap_entries(std::string_view blob) {
  Cursor c{reinterpret_cast<const unsigned char*>(blob.data()), reinterpret_cast<const unsigned char*>(blob.data()) + blob.size(), "zipmap"};
  const uint8_t zmlen = c.u8();  // the entry count, 254 meaning "count them"
  std::vector<std::string> out;
  auto length = [&]() -> size_t {
    uint8_t b = c.u8();
    if (b < 254) return b;
    if (b == 254) return le32(c.take(4));
    throw EncodingError("zipmap length byte 0xFF inside an entry");
  };
  for (;;) {
    if (c.p < c.end && *c.p == 0xFF) {
      ++c.p;
      break;
    }
    size_t flen = length();
    out.emplace_back(reinterpret_cast<const char*>(c.take(flen)), flen);
    size_t vlen = length();
    uint8_t free = c.u8();
    out.emplace_back(reinterpret_cast<const char*>(c.take(vlen)), vlen);
    c.take(free);
  }
  if (c.p != c.end) throw EncodingError("zipmap has bytes after its end marker");
  // As redis-server's integrity check (zipmapValidateIntegrity): not empty, and the count right.
  if (out.empty()) throw EncodingError("zipmap without entries");
  if (zmlen != 254 && zmlen != out.size() / 2)
    throw EncodingError(fmt::format("zipmap header says {} entries, it holds {}", zmlen, out.size() / 2));
  return out;
}

LzfStreamDecoder::LzfStreamDecoder(uint64_t expected_length, std::function<void(std::string_view)> emit, size_t chunk)
    : expected_(expected_length), emit_(std::move(emit)), chunk_(chunk) {}

void LzfStreamDecoder::flush(bool all) {
  constexpr size_t kHistory = 8192 + 2;
  size_t unemitted = window_.size() - emitted_in_window_;
  if (!all && unemitted < chunk_) return;
  if (unemitted) emit_(std::string_view(window_).substr(emitted_in_window_));
  emitted_in_window_ = window_.size();
  if (!all && window_.size() > kHistory) {  // keep only what back-references can reach
    window_.erase(0, window_.size() - kHistory);
    emitted_in_window_ = window_.size();
  }
}

void LzfStreamDecoder::feed(std::string_view input) {
  std::string joined;
  if (!pending_.empty()) {
    joined = pending_ + std::string(input);
    input = joined;
    pending_.clear();
  }
  size_t i = 0;
  while (i < input.size()) {
    auto ctrl = static_cast<unsigned char>(input[i]);
    if (ctrl < 32) {  // literal run of ctrl+1 bytes
      size_t run = ctrl + 1;
      if (input.size() - i - 1 < run) break;
      if (produced_ + run > expected_) throw EncodingError("LZF data decodes past the announced length");
      window_.append(input.data() + i + 1, run);
      produced_ += run;
      i += 1 + run;
    } else {  // back-reference: length, then offset
      size_t len = ctrl >> 5;
      size_t need = len == 7 ? 3 : 2;
      if (input.size() - i < need) break;
      size_t at = i + 1;
      if (len == 7) len += static_cast<unsigned char>(input[at++]);
      size_t back = ((static_cast<size_t>(ctrl) & 0x1f) << 8) + static_cast<unsigned char>(input[at++]) + 1;
      len += 2;
      // How far back the window reaches: everything produced, capped by what it still holds.
      size_t reachable = static_cast<size_t>(std::min<uint64_t>(produced_, window_.size()));
      if (back > reachable) throw EncodingError("LZF back-reference before the start of the output");
      if (produced_ + len > expected_) throw EncodingError("LZF data decodes past the announced length");
      size_t from = window_.size() - back;
      for (size_t k = 0; k < len; ++k) window_.push_back(window_[from + k]);
      produced_ += len;
      i = at;
    }
    flush(false);
  }
  pending_.assign(input.data() + i, input.size() - i);
}

void LzfStreamDecoder::finish() {
  if (!pending_.empty()) throw EncodingError("LZF data ends inside an instruction");
  if (produced_ != expected_)
    throw EncodingError(fmt::format("LZF data decodes to {} bytes, {} announced", produced_, expected_));
  flush(true);
}

}  // namespace ferry::rdb
