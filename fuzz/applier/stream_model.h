// The in-process applier property's generated inputs and its oracle.
//
// Inputs: a replication stream as a list of tokens (small integers RapidCheck generates and shrinks)
// decoded into commands: writes of every shape the applier treats differently (plain, multi-key,
// every expiry form, DB commands, scripts, MULTI/EXEC, PING, REPLCONF, the heartbeat key, lower-case
// names), and applier options (DB selection, --db-map, --include/--exclude, --ttl-extend, relative
// expiries) decoded from one more token.
//
// Oracle: the rules of sink/command_translator.h and command_sink.h written a second time, plainly, over the target's view:
// which commands must reach which target DB, grouped as the transactions they must form. The two
// implementations disagreeing is the finding.
#pragma once

#include "sink/command_translator.h"

#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace ferry::fuzz {

using Command = std::vector<std::string>;
using StreamToken = std::tuple<int, int, int, int, int>;   // operation, key, second key, DB, number
// DBs, DB map, filter, TTL extension, relative expiries, the target's version
using OptionsToken = std::tuple<int, int, int, int, bool, int>;

// A case's options: the applier's, and the target it writes to (its capabilities change commands).
struct CaseOptions {
  StreamOptions stream;
  int target_version = 70015;  // 60016, 70015 or 80002
};

constexpr int kOperations = 36;
std::vector<Command> decode_stream(const std::vector<StreamToken>& tokens);
CaseOptions decode_options(const OptionsToken& token);
std::string describe_options(const CaseOptions& options);
// "7.0.15" for 70015: what the recording target answers INFO with.
std::string version_text(int version);

// The offset after stream command i (the stream starts at offset 0).
inline long long end_offset(size_t i) { return 100 * static_cast<long long>(i + 1); }

// One thing the target must hold: a command alone, or a transaction. `db` is the target DB the
// command runs in (-1 for FLUSHALL and SWAPDB, which do not depend on it). An expiry made absolute
// at apply time is expected as "@now+<ms>": the applier's clock then plus <ms>.
struct TargetUnit {
  bool transaction = false;
  std::vector<std::pair<int, Command>> commands;
  size_t completed_at = 0;  // the stream command that completes it (the command itself, or EXEC)
  bool operator==(const TargetUnit&) const = default;
};

struct Expected {
  std::vector<TargetUnit> units;  // a transaction still open at the end of the stream is not here
  uint64_t unapplied = 0;
};

Expected expected_target(const std::vector<Command>& stream, const CaseOptions& options);

// The time in the last heartbeat an applier fed stream[from, to) has seen (a transaction's only
// when its EXEC is in the range).
std::optional<long long> last_heartbeat(const std::vector<Command>& stream, size_t from, size_t to, const std::string& prefix);

// The offset a flushed applier must report after being fed stream[0, fed) (a MULTI without its EXEC
// is dropped, so the offset stays before it).
long long expected_applied_offset(const std::vector<Command>& stream, size_t fed);

// Reads what a target received (per connection, SELECT tracked, MULTI/EXEC grouped) as units.
std::vector<TargetUnit> target_view(const std::vector<std::pair<int, Command>>& received);

// Equal, with "@now+<ms>" in `expected` matching any time in [now_lo + ms, now_hi + ms], and
// "@left:<t>" (t a time or "@now+<ms>") the milliseconds from then until t, at least 1.
bool same_units(const std::vector<TargetUnit>& expected, const std::vector<TargetUnit>& actual, long long now_lo,
                long long now_hi, std::string* why);

std::string show(const Command& command);
std::string show(const std::vector<TargetUnit>& units);

}  // namespace ferry::fuzz
