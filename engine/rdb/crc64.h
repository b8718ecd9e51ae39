// CRC-64/Jones as Redis computes it over RDB files and DUMP payloads (reflected polynomial
// 0xad93d23594c935a9, initial value 0, no final xor). crc64(0, "123456789") == 0xe9c6d914c4b8d9ca.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferry::rdb {

uint64_t crc64(uint64_t crc, const void* data, size_t len);

}  // namespace ferry::rdb
