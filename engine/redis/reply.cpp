#include "redis/reply.h"

#include <fmt/format.h>

namespace ferry {
namespace {
bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }
}  // namespace

std::string Reply::summary() const {
  switch (type) {
    case Type::Nil: return "nil";
    case Type::Status:
    case Type::String: return str.size() > 80 ? str.substr(0, 80) + "..." : str;
    case Type::Error: return "(error) " + str;
    case Type::Integer: return std::to_string(integer);
    case Type::Array: return fmt::format("[{} elements]", elements.size());
  }
  return "?";
}

RedisErrorKind classify_error(std::string_view m) {
  if (starts_with(m, "WRONGPASS") || contains(m, "invalid password") || contains(m, "invalid username-password"))
    return RedisErrorKind::WrongPass;
  if (starts_with(m, "NOAUTH")) return RedisErrorKind::NoAuth;
  if (starts_with(m, "NOPERM")) return RedisErrorKind::NoPerm;
  if (starts_with(m, "READONLY")) return RedisErrorKind::ReadOnly;
  if (starts_with(m, "OOM")) return RedisErrorKind::Oom;
  if (starts_with(m, "LOADING")) return RedisErrorKind::Loading;
  if (starts_with(m, "BUSYKEY")) return RedisErrorKind::BusyKey;
  if (starts_with(m, "WRONGTYPE")) return RedisErrorKind::WrongType;
  if (contains(m, "unknown command") || contains(m, "unknown subcommand")) return RedisErrorKind::UnknownCommand;
  if (contains(m, "DUMP payload version or checksum")) return RedisErrorKind::BadPayload;
  return RedisErrorKind::Other;
}

bool stops_writing(RedisErrorKind kind, std::string_view message) {
  switch (kind) {
    case RedisErrorKind::Oom:
    case RedisErrorKind::ReadOnly:
    case RedisErrorKind::Loading:
    case RedisErrorKind::UnknownCommand: return true;
    case RedisErrorKind::NoPerm: return message.find("command") != std::string_view::npos;
    default: return false;
  }
}

std::string explain_error(RedisErrorKind kind) {
  switch (kind) {
    case RedisErrorKind::WrongPass: return "wrong user name or password";
    case RedisErrorKind::NoAuth: return "the server requires a password: give it in the URI, the FERRY_*_PASSWORD variable or --*-password-file";
    case RedisErrorKind::NoPerm: return "the ACL user lacks a permission ferry needs";
    case RedisErrorKind::ReadOnly: return "the server is a read-only replica: point ferry at the master";
    case RedisErrorKind::Oom: return "the server is out of memory (maxmemory reached): raise maxmemory or free space";
    case RedisErrorKind::Loading: return "the server is still loading its dataset: retry when it is done";
    case RedisErrorKind::UnknownCommand: return "the command is unknown, renamed or disabled on this server";
    case RedisErrorKind::BusyKey: return "the key already exists";
    case RedisErrorKind::BadPayload: return "the server cannot read this DUMP payload (older RDB version)";
    case RedisErrorKind::WrongType: return "the key holds a different type";
    case RedisErrorKind::Other: return "the server rejected the command";
  }
  return "";
}

}  // namespace ferry
