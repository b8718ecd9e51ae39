#include "rdb/format.h"

namespace ferry::rdb {

int min_version_for_type(uint8_t type) {
  switch (type) {
    case kTypeString: case kTypeList: case kTypeSet: case kTypeZset: case kTypeHash:
    case kTypeHashZipmap: case kTypeListZiplist: case kTypeSetIntset: case kTypeZsetZiplist: case kTypeHashZiplist:
      return 1;
    case kTypeListQuicklist: return 7;
    case kTypeZset2: case kTypeModule2: return 8;
    case kTypeStreamListpacks: return 9;
    case kTypeHashListpack: case kTypeZsetListpack: case kTypeListQuicklist2: case kTypeStreamListpacks2: return 10;
    case kTypeSetListpack: case kTypeStreamListpacks3: return 11;
    default: return 12;
  }
}

std::optional<KeyType> key_type_of(uint8_t type) {
  switch (type) {
    case kTypeString: return KeyType::String;
    case kTypeList: case kTypeListZiplist: case kTypeListQuicklist: case kTypeListQuicklist2: return KeyType::List;
    case kTypeSet: case kTypeSetIntset: case kTypeSetListpack: return KeyType::Set;
    case kTypeZset: case kTypeZset2: case kTypeZsetZiplist: case kTypeZsetListpack: return KeyType::ZSet;
    case kTypeHash: case kTypeHashZipmap: case kTypeHashZiplist: case kTypeHashListpack:
    case kTypeHashMetadataPreGa: case kTypeHashListpackExPreGa: case kTypeHashMetadata: case kTypeHashListpackEx:
      return KeyType::Hash;
    case kTypeStreamListpacks: case kTypeStreamListpacks2: case kTypeStreamListpacks3: return KeyType::Stream;
    default: return std::nullopt;
  }
}

bool payload_portable(uint8_t type, int from_version, int to_version) {
  if (type < kTypeHashMetadataPreGa || type > kTypeHashListpackEx) return true;
  return (from_version == kValkeyVersion) == (to_version == kValkeyVersion);
}

int rdb_version_for_server(int v, int valkey_major) {
  if (valkey_major >= 9) return kValkeyVersion;
  if (v >= 70400) return 12;
  if (v >= 70200) return 11;
  if (v >= 70000) return 10;
  if (v >= 50000) return 9;
  if (v >= 40000) return 8;
  if (v >= 30200) return 7;
  return 6;
}

const char* type_description(uint8_t type) {
  switch (type) {
    case kTypeString: return "string";
    case kTypeList: return "list (linked)";
    case kTypeSet: return "set";
    case kTypeZset: return "zset (string scores)";
    case kTypeHash: return "hash";
    case kTypeZset2: return "zset";
    case kTypeModulePreGa: return "module (pre-GA)";
    case kTypeModule2: return "module";
    case kTypeHashZipmap: return "hash (zipmap)";
    case kTypeListZiplist: return "list (ziplist)";
    case kTypeSetIntset: return "set (intset)";
    case kTypeZsetZiplist: return "zset (ziplist)";
    case kTypeHashZiplist: return "hash (ziplist)";
    case kTypeListQuicklist: return "list (quicklist)";
    case kTypeStreamListpacks: return "stream";
    case kTypeHashListpack: return "hash (listpack)";
    case kTypeZsetListpack: return "zset (listpack)";
    case kTypeListQuicklist2: return "list (quicklist v2)";
    case kTypeStreamListpacks2: return "stream (v2)";
    case kTypeSetListpack: return "set (listpack)";
    case kTypeStreamListpacks3: return "stream (v3)";
    case kTypeHashMetadataPreGa: return "hash with field expiry (pre-GA)";
    case kTypeHashListpackExPreGa: return "hash listpack with field expiry (pre-GA)";
    case kTypeHashMetadata: return "hash with field expiry";
    case kTypeHashListpackEx: return "hash listpack with field expiry";
    default: return "unknown";
  }
}

}  // namespace ferry::rdb
