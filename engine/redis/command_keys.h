// Where the keys are in a write command as the replication stream carries it: which keys it writes
// and which it only reads (the sources of SUNIONSTORE, COPY ...). Key filters and the DB rules of
// the stream applier decide with it. Commands not listed take their first argument as their one key
// (the convention of Redis and of module commands); the keyless ones are listed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ferry {

struct CommandKeys {
  std::vector<size_t> written;  // argument indexes
  std::vector<size_t> read;     // keys only read
  bool keyless() const { return written.empty() && read.empty(); }
};

std::string ascii_upper(std::string s);
std::string ascii_lower(std::string s);
// Whether `word` is `upper` (given in upper case) in any case, without copying.
bool is_word(std::string_view word, std::string_view upper);

// `name` is the command name upper-cased (args[0] as the stream has it may be any case).
CommandKeys command_keys(const std::string& name, const std::vector<std::string>& args);

}  // namespace ferry
