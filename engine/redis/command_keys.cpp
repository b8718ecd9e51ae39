#include "redis/command_keys.h"

#include <cctype>
#include <cstdlib>
#include <set>

namespace ferry {
namespace {

const std::set<std::string>& keyless_commands() {
  static const std::set<std::string> names{
      "PING",  "REPLCONF", "SELECT", "MULTI",   "EXEC",    "DISCARD", "FLUSHALL", "FLUSHDB", "SWAPDB",
      "SCRIPT", "FUNCTION", "PUBLISH", "SPUBLISH", "WAIT",  "ECHO",    "CONFIG",  "CLIENT",  "DEBUG",
      "ACL",   "INFO",     "QUIT",   "FAILOVER", "BGSAVE", "SAVE",    "LASTSAVE", "DBSIZE",  "RANDOMKEY"};
  return names;
}

// Every argument from `from` on is a key.
void all_from(CommandKeys& k, size_t from, size_t n) {
  for (size_t i = from; i < n; ++i) k.written.push_back(i);
}

}  // namespace

bool is_word(std::string_view word, std::string_view upper) {
  if (word.size() != upper.size()) return false;
  for (size_t i = 0; i < word.size(); ++i)
    if ((word[i] >= 'a' && word[i] <= 'z' ? word[i] - 32 : word[i]) != upper[i]) return false;
  return true;
}

std::string ascii_upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string ascii_lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

CommandKeys command_keys(const std::string& name, const std::vector<std::string>& args) {
  CommandKeys k;
  const size_t n = args.size();
  if (n < 2 || keyless_commands().count(name)) return k;

  // Every argument is a key, each written on its own.
  if (name == "DEL" || name == "UNLINK" || name == "TOUCH" || name == "EXISTS" || name == "PFCOUNT" || name == "WATCH") {
    all_from(k, 1, n);
  } else if (name == "MSET" || name == "MSETNX") {
    for (size_t i = 1; i < n; i += 2) k.written.push_back(i);
  } else if (name == "RENAME" || name == "RENAMENX" || name == "SMOVE" || name == "RPOPLPUSH" || name == "LMOVE" ||
             name == "BRPOPLPUSH" || name == "BLMOVE") {
    k.written.push_back(1);
    if (n > 2) k.written.push_back(2);
  } else if (name == "COPY" || name == "ZRANGESTORE" || name == "GEOSEARCHSTORE") {
    // COPY src dst; ZRANGESTORE dst src; GEOSEARCHSTORE dst src
    bool copy = name == "COPY";
    k.written.push_back(copy ? 2 : 1);
    if (n > 2) k.read.push_back(copy ? 1 : 2);
  } else if (name == "SINTERSTORE" || name == "SUNIONSTORE" || name == "SDIFFSTORE" || name == "PFMERGE") {
    k.written.push_back(1);
    for (size_t i = 2; i < n; ++i) k.read.push_back(i);
  } else if (name == "BITOP") {  // BITOP op dst src...
    if (n > 2) k.written.push_back(2);
    for (size_t i = 3; i < n; ++i) k.read.push_back(i);
  } else if (name == "ZUNIONSTORE" || name == "ZINTERSTORE" || name == "ZDIFFSTORE") {  // dst numkeys key...
    k.written.push_back(1);
    size_t numkeys = n > 2 ? std::strtoull(args[2].c_str(), nullptr, 10) : 0;
    for (size_t i = 3; i < n && i < 3 + numkeys; ++i) k.read.push_back(i);
  } else if (name == "LMPOP" || name == "ZMPOP" || name == "SINTERCARD" || name == "ZUNION" || name == "ZINTER" ||
             name == "ZDIFF") {  // numkeys key...
    size_t numkeys = std::strtoull(args[1].c_str(), nullptr, 10);
    for (size_t i = 2; i < n && i < 2 + numkeys; ++i) k.written.push_back(i);
  } else if (name == "BLMPOP" || name == "BZMPOP") {  // timeout numkeys key...
    size_t numkeys = n > 2 ? std::strtoull(args[2].c_str(), nullptr, 10) : 0;
    for (size_t i = 3; i < n && i < 3 + numkeys; ++i) k.written.push_back(i);
  } else if (name == "EVAL" || name == "EVALSHA" || name == "EVAL_RO" || name == "EVALSHA_RO" || name == "FCALL" ||
             name == "FCALL_RO") {  // script numkeys key...: what a script writes is not known, so all are written
    size_t numkeys = n > 2 ? std::strtoull(args[2].c_str(), nullptr, 10) : 0;
    for (size_t i = 3; i < n && i < 3 + numkeys; ++i) k.written.push_back(i);
  } else if (name == "SORT" || name == "GEORADIUS" || name == "GEORADIUSBYMEMBER") {  // key ... [STORE dst]
    bool stores = false;
    for (size_t i = 2; i + 1 < n; ++i) {
      std::string opt = ascii_upper(args[i]);
      if (opt == "STORE" || opt == "STOREDIST") {
        k.written.push_back(i + 1);
        stores = true;
        ++i;
      }
    }
    (stores ? k.read : k.written).push_back(1);
  } else if (name == "XGROUP") {  // XGROUP CREATE key group ...
    if (n > 2) k.written.push_back(2);
  } else if (name == "OBJECT" || name == "MEMORY" || name == "XINFO") {
    if (n > 2) k.read.push_back(2);
  } else if (name == "MIGRATE") {  // MIGRATE host port key|"" db timeout ... [KEYS k...]
    if (n > 3 && !args[3].empty()) k.written.push_back(3);
    for (size_t i = 6; i < n; ++i)
      if (ascii_upper(args[i]) == "KEYS") {
        all_from(k, i + 1, n);
        break;
      }
  } else {
    k.written.push_back(1);
  }
  return k;
}

}  // namespace ferry
