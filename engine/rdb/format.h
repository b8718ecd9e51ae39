// The RDB format's constants, as laid out in Redis' src/rdb.h (and Valkey's), with what each
// means. The parser, the inspector and the payload writer share them.
#pragma once

#include "model/key_record.h"

#include <optional>

#include <cstdint>

namespace ferry::rdb {

// The file starts with "REDIS" + 4 digits (versions 1-12), or "VALKEY" + 3 digits (80 from Valkey 9).
constexpr int kMaxRedisVersion = 12;
constexpr int kValkeyVersion = 80;

// Length encoding: the two high bits of the first byte.
//   00|XXXXXX                      6-bit length
//   01|XXXXXX XXXXXXXX             14-bit length, big-endian
//   10|000000 + 4 bytes            32-bit length, big-endian
//   10|000001 + 8 bytes            64-bit length, big-endian
//   11|XXXXXX                      a specially encoded string follows (kEnc*)
constexpr uint8_t kLen6Bit = 0;
constexpr uint8_t kLen14Bit = 1;
constexpr uint8_t kLen32Bit = 0x80;
constexpr uint8_t kLen64Bit = 0x81;
constexpr uint8_t kLenEncoded = 3;

// Special string encodings (after 11|):
constexpr uint8_t kEncInt8 = 0;   // 1-byte signed integer
constexpr uint8_t kEncInt16 = 1;  // 2-byte signed, little-endian
constexpr uint8_t kEncInt32 = 2;  // 4-byte signed, little-endian
constexpr uint8_t kEncLzf = 3;    // compressed length, uncompressed length, LZF data

// Value types: the byte before each key.
enum Type : uint8_t {
  kTypeString = 0,
  kTypeList = 1,           // linked list of strings (before 3.2)
  kTypeSet = 2,
  kTypeZset = 3,           // scores as strings
  kTypeHash = 4,
  kTypeZset2 = 5,          // scores as binary doubles (4.0+)
  kTypeModulePreGa = 6,
  kTypeModule2 = 7,        // module value with typed opcodes, skippable
  kTypeHashZipmap = 9,
  kTypeListZiplist = 10,
  kTypeSetIntset = 11,
  kTypeZsetZiplist = 12,
  kTypeHashZiplist = 13,
  kTypeListQuicklist = 14,     // quicklist of ziplists (3.2-6.2)
  kTypeStreamListpacks = 15,   // 5.0
  kTypeHashListpack = 16,      // 7.0
  kTypeZsetListpack = 17,      // 7.0
  kTypeListQuicklist2 = 18,    // 7.0: nodes are listpacks or plain strings
  kTypeStreamListpacks2 = 19,  // 7.0: + first id, max-deleted id, entries-added, group entries-read
  kTypeSetListpack = 20,       // 7.2
  kTypeStreamListpacks3 = 21,  // 7.2: + consumer active-time
  kTypeHashMetadataPreGa = 22,    // 7.4 RC: hash with field expiry, absolute TTLs
  kTypeHashListpackExPreGa = 23,  // 7.4 RC: listpack field/value/ttl triplets, absolute
  kTypeHashMetadata = 24,         // 7.4+: min expiry, then TTLs relative to it (+1)
  kTypeHashListpackEx = 25,       // 7.4+: min expiry, then triplets with absolute TTLs
};

// Opcodes: in place of a type byte.
enum Opcode : uint8_t {
  kOpSlotInfo = 244,       // slot id, slot size, expires size (cluster)
  kOpFunction2 = 245,      // a function library's code
  kOpFunctionPreGa = 246,  // 7.0 RC format: not supported
  kOpModuleAux = 247,      // module id, when-opcode, when, typed value
  kOpIdle = 248,           // LRU idle seconds of the next key
  kOpFreq = 249,           // LFU frequency byte of the next key
  kOpAux = 250,            // aux field: two strings
  kOpResizeDb = 251,       // DB size and expires size hints
  kOpExpireTimeMs = 252,   // 8-byte little-endian absolute ms for the next key
  kOpExpireTime = 253,     // 4-byte little-endian absolute seconds (old)
  kOpSelectDb = 254,
  kOpEof = 255,
};

// Typed opcodes inside a module value (RDB_TYPE_MODULE_2 and module aux).
enum ModuleOpcode : uint8_t { kModEof = 0, kModSint = 1, kModUint = 2, kModFloat = 3, kModDouble = 4, kModString = 5 };

// Quicklist v2 node containers.
constexpr uint64_t kQuicklistPlain = 1;
constexpr uint64_t kQuicklistPacked = 2;

// Stream listpack entry flags.
constexpr int64_t kStreamItemDeleted = 1;
constexpr int64_t kStreamItemSameFields = 2;

// The RDB version a type needs: a target older than that cannot RESTORE it.
int min_version_for_type(uint8_t type);
// Whether a payload of `type` written in RDB `from_version` means the same on a server reading RDB
// `to_version`: types 22-25 (hashes with field expiry) mean one thing to Redis (12) and another to
// Valkey (80).
bool payload_portable(uint8_t type, int from_version, int to_version);
// The key type a value type byte encodes; nullopt for module values and unknown bytes.
std::optional<KeyType> key_type_of(uint8_t type);
// The RDB version a server writes and accepts in DUMP payloads, from its INFO server fields.
int rdb_version_for_server(int redis_version /* e.g. 70015 */, int valkey_major /* 0 if not Valkey */);
// "string", "list (quicklist v2)", ...: for messages and `rdb inspect`.
const char* type_description(uint8_t type);

}  // namespace ferry::rdb
