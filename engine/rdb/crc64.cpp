#include "rdb/crc64.h"

#include <array>

namespace ferry::rdb {
namespace {

constexpr uint64_t kPolyReflected = 0x95ac9329ac4bc9b5ULL;  // 0xad93d23594c935a9 bit-reversed

// Slicing-by-8 tables, built at compile time.
constexpr std::array<std::array<uint64_t, 256>, 8> make_tables() {
  std::array<std::array<uint64_t, 256>, 8> t{};
  for (uint64_t i = 0; i < 256; ++i) {
    uint64_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolyReflected : c >> 1;
    t[0][i] = c;
  }
  for (int s = 1; s < 8; ++s)
    for (int i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  return t;
}

constexpr auto kTables = make_tables();

}  // namespace

uint64_t crc64(uint64_t crc, const void* data, size_t len) {
  const auto* p = static_cast<const unsigned char*>(data);
  while (len >= 8) {
    uint64_t v = crc;
    for (int i = 0; i < 8; ++i) v ^= static_cast<uint64_t>(p[i]) << (8 * i);
    crc = kTables[7][v & 0xff] ^ kTables[6][(v >> 8) & 0xff] ^ kTables[5][(v >> 16) & 0xff] ^
          kTables[4][(v >> 24) & 0xff] ^ kTables[3][(v >> 32) & 0xff] ^ kTables[2][(v >> 40) & 0xff] ^
          kTables[1][(v >> 48) & 0xff] ^ kTables[0][v >> 56];
    p += 8;
    len -= 8;
  }
  while (len--) crc = kTables[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return crc;
}

}  // namespace ferry::rdb
