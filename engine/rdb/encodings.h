// Decoders for the compact blobs an RDB stores as strings: ziplist, listpack, intset, zipmap, and
// a streaming LZF decoder. Every length and offset is checked against the blob before use; a bad
// blob throws EncodingError, which the parser reports with the file offset and key.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::rdb {

class EncodingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Ziplist (lists, hashes, zsets before 7.0):
//   <zlbytes u32le> <zltail u32le> <zllen u16le> <entry>... <0xFF>
//   entry: <prevlen: 1 byte, or 0xFE + u32le> <encoding> <data>
//   encoding: 00pppppp | 01pppppp qqqqqqqq (BE) | 10000000 + u32be  -> string of that length
//             0xC0 int16, 0xD0 int32, 0xE0 int64, 0xF0 int24, 0xFE int8, 0xF1..0xFD immediate 0..12
std::vector<std::string> ziplist_entries(std::string_view blob);

// Listpack (7.0+):
//   <total bytes u32le> <count u16le> <entry>... <0xFF>
//   entry: <encoding+data> <backlen: 1-5 bytes, the size of encoding+data>
//   0xxxxxxx 7-bit uint | 10xxxxxx 6-bit-length string | 110xxxxx yyyyyyyy 13-bit int
//   1110xxxx yyyyyyyy 12-bit-length string | 0xF0 + u32le length string
//   0xF1 int16 | 0xF2 int24 | 0xF3 int32 | 0xF4 int64 (all little-endian)
std::vector<std::string> listpack_entries(std::string_view blob);

// Intset: <encoding u32le: 2, 4 or 8> <length u32le> <sorted little-endian integers>
std::vector<std::string> intset_members(std::string_view blob);

// Zipmap (hashes before 2.6): <zmlen u8> (<len> <field> <len> <free u8> <value> <free bytes>)* <0xFF>
//   len: 1 byte (< 254) or 0xFE + u32le
std::vector<std::string> zipmap_entries(std::string_view blob);  // field, value, field, value ...

// Decodes LZF as it arrives. Back-references reach at most 8 KB back, so only that much output
// is kept; the rest is handed to `emit` in chunks.
class LzfStreamDecoder {
 public:
  LzfStreamDecoder(uint64_t expected_length, std::function<void(std::string_view)> emit, size_t chunk = 1 << 20);
  void feed(std::string_view compressed);
  // Checks the output has exactly the expected length and flushes it.
  void finish();

 private:
  void flush(bool all);
  uint64_t expected_;
  uint64_t produced_ = 0;  // total output so far
  std::function<void(std::string_view)> emit_;
  size_t chunk_;
  std::string window_;     // output not yet emitted, plus up to 8 KB of history
  size_t emitted_in_window_ = 0;
  std::string pending_;    // an incomplete instruction carried to the next feed
};

}  // namespace ferry::rdb
