#include "rdb/rdb_parser.h"

#include "core/log.h"
#include "rdb/crc64.h"
#include "rdb/format.h"

#include <fmt/format.h>

namespace ferry::rdb {

std::string make_dump_payload(uint8_t rdb_type, std::string_view value, int rdb_version) {
  std::string payload;
  payload.reserve(value.size() + 11);
  payload.push_back(static_cast<char>(rdb_type));
  payload.append(value);
  payload.push_back(static_cast<char>(rdb_version & 0xff));
  payload.push_back(static_cast<char>((rdb_version >> 8) & 0xff));
  uint64_t crc = crc64(0, payload.data(), payload.size());
  for (int i = 0; i < 8; ++i) payload.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  return payload;
}

void decode_dump_payload(std::string_view payload, KeyInfo key, RdbVisitor& visitor, ParserLimits limits) {
  const std::string where = fmt::format("the DUMP payload of '{}'", log::printable(key.key));
  if (payload.size() < 11) throw RdbError(RdbError::Kind::Truncated, where + ": shorter than its trailer", payload.size());
  const size_t body = payload.size() - 10;
  auto byte = [&](size_t i) { return static_cast<unsigned char>(payload[i]); };
  int version = byte(body) | (byte(body + 1) << 8);
  if (version < 1 || (version > kMaxRedisVersion && version != kValkeyVersion))
    throw RdbError(RdbError::Kind::Corrupt, fmt::format("{}: RDB version {} is not one ferry reads", where, version), body);
  uint64_t stored = 0;
  for (int i = 7; i >= 0; --i) stored = (stored << 8) | byte(body + 2 + i);
  if (stored != 0 && stored != crc64(0, payload.data(), body + 2))
    throw RdbError(RdbError::Kind::Corrupt, where + ": checksum mismatch", body + 2);
  io::MemorySource source(payload.substr(0, body), where);
  RdbParser parser(source, visitor, limits);
  parser.parse_value(std::move(key), version);
}

}  // namespace ferry::rdb
