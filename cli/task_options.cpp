#include "task_options.h"

#include "core/error.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include <filesystem>
#include <fstream>

namespace ferry::cli {
namespace {

enum class Kind { String, Integer, Number, Bool, IntList, StringList, Size };

// One key of a task file and the flag it stands for. `invert`: the key is the flag's opposite
// (heartbeat = false is --no-heartbeat).
struct FileKey {
  const char* section;  // "" for the top level
  const char* key;
  const char* flag;     // empty: handled by hand (passwords)
  Kind kind;
  bool invert = false;
  // Checks a value beyond its flag's validator (throws FerryError naming the problem).
  void (*validate)(const std::vector<std::string>& values) = nullptr;
};

void validate_db_map(const std::vector<std::string>& v) { DbMap::parse(v.front()); }
void validate_patterns(const std::vector<std::string>& v) {
  for (const auto& p : v) KeyPattern{p};
}
void validate_checks(const std::vector<std::string>& v) {
  for (const auto& name : v)
    if (!is_check_name(name))
      throw FerryError(ExitCode::Usage, fmt::format("no check named '{}' (the names: {})", name, fmt::join(check_names(), ", ")));
}

const std::vector<FileKey>& file_keys() {
  static const std::vector<FileKey> keys{
      {"", "mode", "--mode", Kind::String},
      {"", "task-id", "--task-id", Kind::String},
      {"", "rdb", "--rdb", Kind::String},
      {"", "accept-warnings", "--accept-warnings", Kind::Bool},
      {"", "skip-check", "--skip-check", Kind::StringList, false, validate_checks},
      {"source", "uri", "--source", Kind::String},
      {"source", "password-file", "--source-password-file", Kind::String},
      {"source", "password", "", Kind::String},
      {"target", "uri", "--target", Kind::String},
      {"target", "password-file", "--target-password-file", Kind::String},
      {"target", "password", "", Kind::String},
      {"select", "db", "--db", Kind::IntList},
      {"select", "db-map", "--db-map", Kind::String, false, validate_db_map},
      {"select", "include", "--include", Kind::StringList, false, validate_patterns},
      {"select", "exclude", "--exclude", Kind::StringList, false, validate_patterns},
      {"write", "on-conflict", "--on-conflict", Kind::String},
      {"write", "ttl-extend", "--ttl-extend", Kind::Integer},
      {"write", "write-mode", "--write-mode", Kind::String},
      {"write", "big-key-threshold", "--big-key-threshold", Kind::Size},
      {"write", "skip-unsupported", "--skip-unsupported", Kind::Bool},
      {"write", "scan-count", "--scan-count", Kind::Integer},
      {"sync", "until-caught-up", "--until-caught-up", Kind::Bool},
      {"sync", "block-flush", "--block-flush", Kind::Bool},
      {"sync", "heartbeat", "--no-heartbeat", Kind::Bool, true},
      {"sync", "max-ops", "--max-ops", Kind::Integer},
      {"sync", "max-bytes", "--max-bytes", Kind::Integer},
      {"sync", "retry-connection", "--retry-connection", Kind::Integer},
      {"sync", "retry-other", "--retry-other", Kind::Integer},
      {"sync", "state", "--state", Kind::String},
      {"sync", "unsafe-resync-append", "--unsafe-resync-append", Kind::Bool},
      {"sync", "spool-dir", "--spool-dir", Kind::String},
      {"connection", "connect-timeout", "--connect-timeout", Kind::Number},
      {"connection", "read-timeout", "--read-timeout", Kind::Number},
      {"connection", "pipeline-commands", "--pipeline-commands", Kind::Integer},
      {"connection", "pipeline-bytes", "--pipeline-bytes", Kind::Size},
      {"output", "report", "--report", Kind::String},
      {"output", "log-file", "--log-file", Kind::String},
      {"output", "log-level", "--log-level", Kind::String},
      {"output", "progress", "--progress", Kind::String},
  };
  return keys;
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::String: return "a string";
    case Kind::Integer: return "an integer";
    case Kind::Number: return "a number";
    case Kind::Bool: return "true or false";
    case Kind::IntList: return "an array of integers";
    case Kind::StringList: return "an array of strings";
    case Kind::Size: return "an integer or a size string such as \"4M\"";
  }
  return "?";
}

const char* type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date or time";
  }
}

// The node's value as the flag's argument(s), or nullopt when its type is wrong.
std::optional<std::vector<std::string>> as_arguments(const toml::node& n, Kind kind, bool invert) {
  auto scalar = [&](const toml::node& v, Kind k) -> std::optional<std::string> {
    switch (k) {
      case Kind::String:
        if (auto s = v.as_string()) return s->get();
        return std::nullopt;
      case Kind::Integer:
        if (auto i = v.as_integer()) return std::to_string(i->get());
        return std::nullopt;
      case Kind::Number:
        if (auto i = v.as_integer()) return std::to_string(i->get());
        if (auto f = v.as_floating_point()) return fmt::format("{}", f->get());
        return std::nullopt;
      case Kind::Bool:
        if (auto b = v.as_boolean()) return (b->get() != invert) ? "true" : "false";
        return std::nullopt;
      case Kind::Size:
        if (auto i = v.as_integer()) return std::to_string(i->get());
        if (auto s = v.as_string()) return s->get();
        return std::nullopt;
      default: return std::nullopt;
    }
  };
  if (kind == Kind::IntList || kind == Kind::StringList) {
    const toml::array* arr = n.as_array();
    if (!arr) return std::nullopt;
    std::vector<std::string> out;
    for (const auto& element : *arr) {
      auto v = scalar(element, kind == Kind::IntList ? Kind::Integer : Kind::String);
      if (!v) return std::nullopt;
      out.push_back(*v);
    }
    return out;
  }
  auto v = scalar(n, kind);
  if (!v) return std::nullopt;
  return std::vector<std::string>{*v};
}

std::string qualified(const FileKey& k) { return *k.section ? fmt::format("{}.{}", k.section, k.key) : k.key; }

}  // namespace

std::vector<std::string> task_file_keys() {
  std::vector<std::string> out;
  for (const auto& k : file_keys()) out.push_back(qualified(k));
  return out;
}

std::vector<ConfigProblem> load_task_file(const std::string& path, CLI::App& app, TaskOptions& options) {
  if (std::filesystem::is_directory(path)) return {{0, 0, "is a directory, not a task file"}};
  std::ifstream in(path);
  if (!in) return {{0, 0, "cannot be read (no such file)"}};
  return parse_task_file(std::string(std::istreambuf_iterator<char>(in), {}), path, app, options);
}

std::vector<ConfigProblem> parse_task_file(const std::string& text, const std::string& path, CLI::App& app, TaskOptions& options) {
  std::vector<ConfigProblem> problems;
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return {{static_cast<long>(where.line), static_cast<long>(where.column), std::string(e.description())}};
  }
  auto problem_at = [&](const toml::source_region& where, std::string message) {
    problems.push_back({static_cast<long>(where.begin.line), static_cast<long>(where.begin.column), std::move(message)});
  };
  auto problem = [&](const toml::node& n, std::string message) { problem_at(n.source(), std::move(message)); };
  auto known_in = [](const std::string& section) {
    std::vector<std::string> names;
    for (const auto& k : file_keys())
      if (section == k.section) names.push_back(k.key);
    return fmt::format("{}", fmt::join(names, ", "));
  };
  auto is_section = [](std::string_view name) {
    for (const auto& k : file_keys())
      if (*k.section && name == k.section) return true;
    return false;
  };

  auto apply = [&](const FileKey& key, const toml::node& n) {
    auto values = as_arguments(n, key.kind, key.invert);
    if (!values) {
      problem(n, fmt::format("'{}' must be {}, not {}", qualified(key), kind_name(key.kind), type_name(n)));
      return;
    }
    if (key.validate) {
      try {
        key.validate(*values);
      } catch (const FerryError& e) {
        problem(n, fmt::format("'{}': {}", qualified(key), e.what()));
        return;
      }
    }
    if (!*key.flag) {  // a password: never echoed
      (std::string_view(key.section) == "source" ? options.source_password : options.target_password) = values->front();
      return;
    }
    CLI::Option* opt = app.get_option_no_throw(key.flag);
    if (!opt) {
      problem(n, fmt::format("'{}' does not apply to `{}`", qualified(key), app.get_name()));
      return;
    }
    if (opt->count() > 0) return;  // the command line wins
    if (values->empty()) return;    // an empty list: the default
    try {
      opt->clear();
      for (const auto& v : *values) opt->add_result(v);
      opt->run_callback();
    } catch (const CLI::Error& e) {
      problem(n, fmt::format("'{}': {}", qualified(key), e.what()));
    }
  };

  for (const auto& [name, node] : root) {
    std::string top(name.str());
    if (const toml::table* section = node.as_table(); section && is_section(top)) {
      for (const auto& [sub, value] : *section) {
        std::string key(sub.str());
        auto it = std::find_if(file_keys().begin(), file_keys().end(),
                               [&](const FileKey& k) { return top == k.section && key == k.key; });
        if (it == file_keys().end())
          problem_at(sub.source(), fmt::format("unknown key '{}' in [{}] (known: {})", key, top, known_in(top)));
        else
          apply(*it, value);
      }
      continue;
    }
    auto it = std::find_if(file_keys().begin(), file_keys().end(),
                           [&](const FileKey& k) { return !*k.section && top == k.key; });
    if (it == file_keys().end() && node.is_table())
      problem_at(name.source(), fmt::format("unknown section [{}] (sections: [source], [target], [select], [write], "
                                            "[sync], [connection], [output])",
                                            top));
    else if (it == file_keys().end())
      problem_at(name.source(), fmt::format("unknown key '{}' (top-level keys: {}; sections: [source], [target], [select], "
                                "[write], [sync], [connection], [output])",
                                top, known_in("")));
    else
      apply(*it, node);
  }
  std::stable_sort(problems.begin(), problems.end(), [](const ConfigProblem& a, const ConfigProblem& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  return problems;
}

void TaskOptions::add_to(CLI::App& cmd) {
  conn.add_to(cmd, false, false);
  log.add_to(cmd);
  cmd.add_option("--config", config_file,
                 "TOML task file with the options below (see `ferry config example`); flags given here override it");
  cmd.add_option("--mode", mode,
                 "scan: SCAN + DUMP/RESTORE from --source; snapshot: the source's replication snapshot; sync: "
                 "snapshot, then every write as it happens (until SIGINT/SIGTERM or --until-caught-up); rdb: "
                 "import the RDB file --rdb")
      ->capture_default_str()->check(CLI::IsMember({"scan", "snapshot", "sync", "rdb"}));
  cmd.add_option("--db", dbs, "DBs to copy, e.g. 0,5 (default: every non-empty DB; the URI's /db means the same)")
      ->delimiter(',')->check(CLI::Range(0, 255));
  cmd.add_option("--db-map", db_map, "Write source DB s into target DB t: s:t[,s:t...], e.g. 0:1,5:6 (one to one)");
  cmd.add_option("--include", include,
                 "Copy only keys matching this pattern (repeatable; a glob as SCAN MATCH has it, or re:REGEX, PCRE, "
                 "unanchored)");
  cmd.add_option("--exclude", exclude, "Leave out keys matching this pattern (repeatable; glob, or re:REGEX)");
  cmd.add_option("--on-conflict", on_conflict,
                 "block: stop before writing if the target holds keys in the selected DBs; replace: overwrite keys "
                 "of the same name")
      ->capture_default_str()->check(CLI::IsMember({"block", "replace"}));
  cmd.add_option("--ttl-extend", ttl_extend_s, "Seconds added to every migrated expiry (0: exact copy)")
      ->capture_default_str()->check(non_negative());
  cmd.add_option("--write-mode", write_mode,
                 "auto: RESTORE, native commands where the target rejects the payload; restore: RESTORE only; "
                 "commands: native commands for every key")
      ->capture_default_str()->check(CLI::IsMember({"auto", "restore", "commands"}));
  cmd.add_flag("--accept-warnings", accept_warnings,
               "Migrate despite precheck warnings, and exit 0 (not 2) when the only findings are warnings");
  cmd.add_option("--skip-check", skip_checks,
                 "Run this precheck check but ignore its outcome (repeatable; a check name as `ferry precheck` lists "
                 "them, e.g. target-memory)");
  cmd.add_option("--report", report_path, "Write the summary as JSON to this file");
  cmd.add_option("--big-key-threshold", big_key_bytes,
                 "Keys larger than this (MEMORY USAGE) are copied in chunks with native commands (suffixes K, M, G)")
      ->capture_default_str()->transform(CLI::AsSizeValue(false));
  cmd.add_option("--scan-count", scan_count, "SCAN COUNT hint")->capture_default_str()->check(CLI::Range(size_t{1}, size_t{100000}));
  cmd.add_option("--progress", progress, "Progress line on stderr: auto (when a terminal), always, never")
      ->capture_default_str()->check(CLI::IsMember({"auto", "always", "never"}));
  cmd.add_option("--rdb", rdb_file, "RDB file to import (--mode rdb)");
  cmd.add_flag("--skip-unsupported", skip_unsupported,
               "Skip and count data the target cannot hold (module values, field expiry on an old target, ...) "
               "instead of failing them");
  cmd.add_flag("--until-caught-up", until_caught_up,
               "sync: exit 0 as soon as the target holds everything up to the source's current offset (cutover)");
  cmd.add_flag("--block-flush", block_flush, "sync: stop the task with an error on FLUSHALL/FLUSHDB instead of applying it");
  cmd.add_flag("--no-heartbeat", no_heartbeat, "sync: do not write the ferry:heartbeat:<task-id> key on the source");
  cmd.add_flag("--unsafe-resync-append", unsafe_resync_append,
               "sync, UNSAFE: a full resync writes the snapshot on top of the target (lists appended to) and deletes "
               "nothing; reproduces the duplicates and stale keys of a naive re-sync. Never use it for a real migration");
  cmd.add_option("--task-id", task_id, "Names the heartbeat key (default: derived from source and target)");
  cmd.add_option("--max-ops", max_ops, "sync: apply at most this many commands per second (0: no limit)")
      ->capture_default_str()->check(non_negative());
  cmd.add_option("--max-bytes", max_bytes, "sync: apply at most this many bytes per second (0: no limit)")
      ->capture_default_str()->check(non_negative());
  cmd.add_option("--retry-connection", retry_connection,
                 "sync: seconds to keep retrying a broken link to the source (resuming by partial resync)")
      ->capture_default_str()->check(non_negative());
  cmd.add_option("--retry-other", retry_other, "sync: seconds to keep retrying a target that went away (then a full resync)")
      ->capture_default_str()->check(non_negative());
  cmd.add_option("--state", state_file, "sync: keep the task's position in this file; a restarted ferry resumes from it");
  cmd.add_option("--spool-dir", spool_dir,
                 "snapshot/sync: read the replication link at full speed into files here and apply from them, so a "
                 "slow target cannot get ferry cut off by the source's output-buffer limit; full resyncs keep their "
                 "key sets here too (default for those: $TMPDIR or /tmp)");
}

void TaskOptions::finish(CLI::App& app) {
  if (!config_file.empty()) {
    auto problems = load_task_file(config_file, app, *this);
    if (!problems.empty()) {
      std::string text = fmt::format("task file '{}' has {} problem(s):", config_file, problems.size());
      for (const auto& p : problems)
        text += p.line ? fmt::format("\n  {}:{}:{}: {}", config_file, p.line, p.column, p.message)
                       : fmt::format("\n  {}: {}", config_file, p.message);
      throw FerryError(ExitCode::Usage, text);
    }
  }
  if (conn.target.uri.empty()) throw FerryError(ExitCode::Usage, "--target is required (or target.uri in the task file)");
  if (mode == "rdb") {
    if (rdb_file.empty()) throw FerryError(ExitCode::Usage, "--mode rdb needs --rdb FILE");
    if (!conn.source.uri.empty()) throw FerryError(ExitCode::Usage, "--mode rdb reads --rdb FILE: drop --source");
  } else {
    if (!rdb_file.empty()) throw FerryError(ExitCode::Usage, "--rdb is for --mode rdb");
    if (conn.source.uri.empty())
      throw FerryError(ExitCode::Usage, fmt::format("--mode {} needs --source URI (or source.uri in the task file)", mode));
  }
  if (until_caught_up && mode != "sync") throw FerryError(ExitCode::Usage, "--until-caught-up is for --mode sync");
  for (const auto& name : skip_checks)
    if (!is_check_name(name))
      throw FerryError(ExitCode::Usage, fmt::format("--skip-check {}: no such check (the names: {})", name,
                                                    fmt::join(check_names(), ", ")));
  copy_options();  // throws for a bad --db-map or pattern
}

Endpoint TaskOptions::source_endpoint() const {
  Endpoint ep = parse_redis_uri(conn.source.uri, "source");
  if (!ep.password && !source_password.empty()) ep.password = source_password;
  resolve_password(ep, conn.source.password_file, "FERRY_SOURCE_PASSWORD");
  return ep;
}

Endpoint TaskOptions::target_endpoint() const {
  Endpoint ep = parse_redis_uri(conn.target.uri, "target");
  if (!ep.password && !target_password.empty()) ep.password = target_password;
  resolve_password(ep, conn.target.password_file, "FERRY_TARGET_PASSWORD");
  return ep;
}

CopyOptions TaskOptions::copy_options() const {
  CopyOptions copy;
  copy.on_conflict = on_conflict == "replace" ? ConflictMode::Replace : ConflictMode::Block;
  copy.ttl_extend_ms = ttl_extend_s * 1000;
  copy.write_mode = write_mode == "restore"    ? WriteMode::Restore
                    : write_mode == "commands" ? WriteMode::Commands
                                               : WriteMode::Auto;
  copy.big_key_bytes = big_key_bytes;
  copy.scan_count = scan_count;
  copy.skip_unsupported = skip_unsupported;
  copy.pipeline = conn.pipeline();
  copy.dbs = dbs;
  if (!conn.source.uri.empty() && mode != "rdb") {
    Endpoint source = parse_redis_uri(conn.source.uri, "source");
    if (source.db) {
      if (!dbs.empty() && !(dbs.size() == 1 && dbs[0] == *source.db))
        throw FerryError(ExitCode::Usage, fmt::format("the source URI selects DB {} but --db says {}", *source.db,
                                                      fmt::join(dbs, ",")));
      copy.dbs = {*source.db};
    }
  }
  copy.db_map = DbMap::parse(db_map);
  copy.db_map.check(copy.dbs);
  copy.filter = KeyFilter(include, exclude);
  return copy;
}

PrecheckOptions TaskOptions::precheck_options() const {
  CopyOptions copy = copy_options();
  PrecheckOptions p;
  p.mode = mode;
  p.dbs = copy.dbs;
  p.db_map = copy.db_map;
  p.replace = copy.on_conflict == ConflictMode::Replace;
  p.timeouts = conn.timeouts();
  p.skip = skip_checks;
  p.rdb_file = rdb_file;
  p.skip_unsupported = skip_unsupported;
  p.resuming = mode == "sync" && !state_file.empty() && std::filesystem::exists(state_file);
  return p;
}

}  // namespace ferry::cli

namespace ferry::cli {

const char* task_file_example() {
  return R"(# ferry task file: `ferry migrate --config FILE` (or `ferry precheck --config FILE`).
# Every key is optional and shows its default; a flag given on the command line wins over the file.
# Check a file with `ferry config check FILE`.

mode = "scan"               # scan | snapshot | sync | rdb
task-id = ""                # names the heartbeat key ferry:heartbeat:<task-id> (default: from source and target)
rdb = ""                    # the RDB file of --mode rdb
accept-warnings = false     # migrate despite precheck warnings (and exit 0 with only warnings)
skip-check = []             # precheck checks whose outcome is ignored, e.g. ["target-memory"]

[source]
uri = "redis://127.0.0.1:6379"   # redis://[user[:password]@]host:port[/db]; not used by mode "rdb"
password-file = ""               # a file holding the password (or user:password); wins over everything
# password = "..."               # used when neither the URI, the file nor FERRY_SOURCE_PASSWORD gives one

[target]
uri = "redis://127.0.0.1:6380"
password-file = ""
# password = "..."

[select]
db = []                     # source DBs to copy, e.g. [0, 5]; empty: every non-empty DB
db-map = ""                 # source DB -> target DB, e.g. "0:1,5:6" (one to one)
include = []                # key patterns to copy: globs as SCAN MATCH has them, or "re:<PCRE regex>"
exclude = []                # key patterns to leave out (checked after include)

[write]
on-conflict = "block"       # block: refuse a target holding keys in the selected DBs; replace: overwrite
ttl-extend = 0              # seconds added to every expiry
write-mode = "auto"         # auto | restore | commands
big-key-threshold = "4M"    # keys above this are copied in chunks with native commands
skip-unsupported = false    # skip and count data the target cannot hold instead of failing
scan-count = 1000           # SCAN COUNT hint (mode "scan")

[sync]
until-caught-up = false     # mode "sync": exit 0 once the target holds everything up to the source's offset
block-flush = false         # stop on FLUSHALL/FLUSHDB instead of applying them
heartbeat = true            # write ferry:heartbeat:<task-id> on the source to measure lag
max-ops = 0                 # commands applied per second at most (0: no limit)
max-bytes = 0               # bytes applied per second at most (0: no limit)
retry-connection = 43200    # seconds a broken link to the source is retried (partial resync)
retry-other = 600           # seconds a target that went away is retried (then a full resync)
state = ""                  # file keeping the task's position: a restarted task resumes from it
unsafe-resync-append = false  # UNSAFE, for reproducing failures: a full resync appends instead of replacing
spool-dir = ""              # read the link at full speed into files here

[connection]
connect-timeout = 5         # seconds
read-timeout = 60           # seconds
pipeline-commands = 8192    # commands in flight per connection
pipeline-bytes = "8M"       # bytes in flight per connection

[output]
report = ""                 # write the summary as JSON to this file
log-file = ""               # also write the log, with timestamps and debug detail, here
log-level = "info"          # debug | info | warn | error | off
progress = "auto"           # auto | always | never
)";
}

}  // namespace ferry::cli
