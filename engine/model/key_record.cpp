#include "model/key_record.h"

namespace ferry {

std::optional<KeyType> key_type_from_name(std::string_view t) {
  if (t == "string") return KeyType::String;
  if (t == "list") return KeyType::List;
  if (t == "set") return KeyType::Set;
  if (t == "zset") return KeyType::ZSet;
  if (t == "hash") return KeyType::Hash;
  if (t == "stream") return KeyType::Stream;
  return std::nullopt;
}

const char* key_type_name(KeyType type) {
  switch (type) {
    case KeyType::String: return "string";
    case KeyType::List: return "list";
    case KeyType::Set: return "set";
    case KeyType::ZSet: return "zset";
    case KeyType::Hash: return "hash";
    case KeyType::Stream: return "stream";
  }
  return "?";
}

}  // namespace ferry
