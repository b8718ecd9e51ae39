// The task's transform (--transform FILE.lua): a Lua 5.4 script between the decoders and the sinks.
// It sees every key record (a key of an RDB, a snapshot, a scan, an AOF preamble) and every command
// (the replication stream, a spool, an AOF) after the task's selection (--dbs, --include/--exclude,
// on the source's names) and before --db-map, --ttl-extend and the target's routing, so a renamed
// key goes to its new cluster slot.
//
// The script defines two functions:
//   on_key(k)      k = {db, key, type, expire_ms, value}: returns k (changed or not), a list of
//                  records, or ferry.drop(). `value` (strings, and lists, sets, sorted sets and
//                  hashes up to --big-key-threshold) is read from the source only when the script
//                  reads it; bigger keys and streams have none and can be renamed, moved, given an
//                  expiry or dropped, not copied twice.
//   on_command(c)  c = {db, name, args, keys}: args are the arguments after the name, keys the
//                  indexes of args that are keys. Returns c, a list of commands, or ferry.drop().
// Returning nothing is an error, never a silent drop. Helpers (the `ferry` table): drop, copy,
// keys, rename, rename_prefix, match, cap_ttl, now_ms, log.
//
// The script runs sandboxed: base (without load, dofile, loadfile, collectgarbage), string, table,
// math (a fixed random seed), utf8 and coroutine; no io, os, package, require or debug. Each call
// has a time budget and the state a memory limit. One Transform (one Lua state) per thread.
#pragma once

#include "core/error.h"
#include "model/key_record.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct lua_State;
struct lua_Debug;

namespace ferry {

// The script as a task holds it: read once, shared by every thread's Transform.
struct TransformScript {
  std::string path;  // as given (messages name it)
  std::string code;
  bool has_on_key = false, has_on_command = false;
  long long budget_ms = 1000;           // per call (--transform-budget-ms)
  size_t memory_bytes = 256ull << 20;   // per Lua state

  // Reads the file and runs it once in a sandbox: a missing file, a syntax error, an error at load
  // or a script defining neither function is FerryError(Usage), naming the file and the line.
  static std::shared_ptr<const TransformScript> load(const std::string& path, long long budget_ms = 1000);
  // The script's file name without its directories.
  std::string name() const;
};

// A small value as the script sees it, and what it may replace it with.
struct KeyValue {
  std::string string;                                 // string
  std::vector<std::string> members;                   // list (in order), set
  std::vector<std::pair<std::string, double>> scored; // sorted set
  std::vector<FieldValue> fields;                     // hash
  bool operator==(const KeyValue&) const = default;
  size_t bytes() const;
};

struct KeyRecord {
  int db = 0;
  std::string key;
  KeyType type = KeyType::String;
  std::optional<long long> expire_ms;  // absolute Unix ms
  std::optional<KeyValue> value;       // on an output only: a value the script replaced (none: the input's)
};

struct TransformedCommand {
  int db = 0;
  std::vector<std::string> args;  // name first
};

// A script failed on a record: FerryError(Failed), the task stops.
class TransformError : public FerryError {
 public:
  explicit TransformError(const std::string& message) : FerryError(ExitCode::Failed, message) {}
};

class Transform {
 public:
  explicit Transform(std::shared_ptr<const TransformScript> script);
  ~Transform();
  Transform(const Transform&) = delete;
  Transform& operator=(const Transform&) = delete;

  // `value` loads the key's value when the script reads it (nullopt: it has none to give). Empty
  // result: dropped. `several`: whether more than one output can be written (a key whose value is
  // streamed is written once). Throws TransformError.
  using ValueLoader = std::function<std::optional<KeyValue>()>;
  std::vector<KeyRecord> key(const KeyRecord& in, const ValueLoader& value, bool several = true);
  // `args`: the command as the stream has it (name first). Throws TransformError.
  std::vector<TransformedCommand> command(int db, const std::vector<std::string>& args);

  const TransformScript& script() const { return *script_; }
  struct Memory {  // what the Lua state holds, and its limit
    size_t used = 0, limit = 0;
  };

 private:
  void open();
  void begin_call();
  std::vector<KeyRecord> read_key_outputs(const KeyRecord& in, const std::string& what, bool several);
  std::vector<TransformedCommand> read_command_outputs(int input_db, const std::string& what);
  std::string defined_at(const char* function);
  bool output_tables(const char* hook, const char* field, const char* noun, const std::string& what, std::vector<int>& tables);
  [[noreturn]] void fail(const std::string& what, const std::string& why);
  static int value_index(lua_State* L);
  static void budget_hook(lua_State* L, lua_Debug* ar);

  std::shared_ptr<const TransformScript> script_;
  lua_State* L_ = nullptr;
  Memory memory_;
  long long deadline_ns_ = 0;
  int drop_ref_ = -2, meta_ref_ = -2, input_ref_ = -2;
  const ValueLoader* loader_ = nullptr;    // of the record in the current call
  std::optional<KeyValue> loaded_;         // what the loader gave (compared with the outputs)
  bool value_read_ = false;
  KeyType input_type_ = KeyType::String;
};

// The type as a script names it: "string", "list", "set", "zset", "hash", "stream".
const char* transform_type_name(KeyType type);

}  // namespace ferry
