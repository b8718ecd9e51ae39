// An owned RESP reply, and the classification of Redis error replies into what ferry reacts to.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

struct Reply {
  enum class Type { Nil, Status, Error, Integer, String, Array };
  Type type = Type::Nil;
  std::string str;        // Status, Error, String
  long long integer = 0;  // Integer
  std::vector<Reply> elements;

  bool is_nil() const { return type == Type::Nil; }
  bool is_error() const { return type == Type::Error; }
  bool is_array() const { return type == Type::Array; }
  bool is_integer() const { return type == Type::Integer; }
  bool is_string() const { return type == Type::String || type == Type::Status; }
  // "nil", "(error) ...", the string, the integer, or "[n elements]": for messages.
  std::string summary() const;
  // A field of a flat [name, value, name, value ...] reply (XINFO, CLUSTER SHARDS in RESP2);
  // nullptr when absent.
  const Reply* field(std::string_view name) const {
    for (size_t i = 0; i + 1 < elements.size(); i += 2)
      if (elements[i].str == name) return &elements[i + 1];
    return nullptr;
  }
};

// What an error reply means for the job.
enum class RedisErrorKind {
  WrongPass,       // WRONGPASS / invalid password
  NoAuth,          // NOAUTH: a password is required
  NoPerm,          // NOPERM: ACL forbids the command or key
  ReadOnly,        // READONLY: the server is a replica
  Oom,             // OOM: maxmemory reached with noeviction (or eviction not enough)
  Loading,         // LOADING: the server is loading its dataset
  UnknownCommand,  // unknown or renamed command
  BusyKey,         // BUSYKEY: RESTORE without REPLACE on an existing key
  BadPayload,      // RESTORE: DUMP payload version or checksum are wrong
  WrongType,
  Other,
};

RedisErrorKind classify_error(std::string_view message);
// Errors after which writing more to that server is pointless: OOM, READONLY, LOADING, an unknown
// (renamed) command, a command-level NOPERM (not one about a key pattern). The job stops on them.
bool stops_writing(RedisErrorKind kind, std::string_view message);
// One sentence telling the user what the error kind means and what to do.
std::string explain_error(RedisErrorKind kind);

}  // namespace ferry
