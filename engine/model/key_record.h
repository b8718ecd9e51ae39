// The value model: what a decoder (the RDB parser, the scan reader, later the AOF preamble) says
// about a key, and what the sinks and writers consume. Nothing here knows where a key comes from
// or where it goes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry {

enum class KeyType { String, List, Set, ZSet, Hash, Stream };
std::optional<KeyType> key_type_from_name(std::string_view redis_type);  // "string", "list", ...
const char* key_type_name(KeyType type);

using FieldValue = std::pair<std::string, std::string>;

struct StreamEntry {
  std::string id;
  std::vector<std::string> fields_values;  // f1 v1 f2 v2 ...
};

struct StreamMeta {
  std::string last_id;                        // last-generated-id
  std::optional<long long> entries_added;     // 7.0+
  std::optional<std::string> max_deleted_id;  // 7.0+
};

struct StreamGroup {
  std::string name;
  std::string last_delivered_id;
  std::optional<long long> entries_read;  // 7.0+, nil when unknown
};

struct StreamPendingEntry {
  std::string id;
  std::string consumer;
  long long idle_ms = 0;
  long long deliveries = 1;
};

// One key as a source found it: where (DB), which, its type and expiry, and where it sits in the
// input (for error messages and progress).
struct KeyInfo {
  int db = 0;
  std::string key;
  uint8_t rdb_type = 0;                  // the RDB type byte (rdb/format.h): the encoding of a payload
  KeyType type = KeyType::String;
  std::optional<long long> expire_ms;    // absolute Unix ms
  std::optional<uint64_t> idle_seconds;  // LRU
  std::optional<uint8_t> lfu_freq;       // LFU
  uint64_t offset = 0;                   // of the type byte in the input
  uint64_t end_offset = 0;               // after the value
  bool empty = false;                    // a collection without elements (known at the value's end)

  static KeyInfo named(int db, std::string key) {
    KeyInfo k;
    k.db = db;
    k.key = std::move(key);
    return k;
  }
};

}  // namespace ferry
