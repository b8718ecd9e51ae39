#include "task/task_config.h"

#include "core/error.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace ferry {
namespace {

const char* kind_name(SettingKind k) {
  switch (k) {
    case SettingKind::String: return "a string";
    case SettingKind::Choice: return "a string";
    case SettingKind::Integer: return "an integer";
    case SettingKind::Number: return "a number";
    case SettingKind::Bool: return "true or false";
    case SettingKind::IntList: return "an array of integers";
    case SettingKind::StringList: return "an array of strings";
    case SettingKind::Size: return "an integer or a size string such as \"4M\"";
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

// The node's value as the setting's text value(s), or nullopt when its type is wrong.
std::optional<std::vector<std::string>> as_values(const toml::node& n, SettingKind kind, bool one_for_many) {
  auto scalar = [](const toml::node& v, SettingKind k) -> std::optional<std::string> {
    switch (k) {
      case SettingKind::String:
      case SettingKind::Choice:
        if (auto s = v.as_string()) return s->get();
        return std::nullopt;
      case SettingKind::Integer:
        if (auto i = v.as_integer()) return std::to_string(i->get());
        return std::nullopt;
      case SettingKind::Number:
        if (auto i = v.as_integer()) return std::to_string(i->get());
        if (auto f = v.as_floating_point()) return fmt::format("{}", f->get());
        return std::nullopt;
      case SettingKind::Bool:
        if (auto b = v.as_boolean()) return std::string(b->get() ? "true" : "false");
        return std::nullopt;
      case SettingKind::Size:
        if (auto i = v.as_integer()) return std::to_string(i->get());
        if (auto s = v.as_string()) return s->get();
        return std::nullopt;
      default: return std::nullopt;
    }
  };
  if (kind == SettingKind::IntList || kind == SettingKind::StringList) {
    const toml::array* arr = n.as_array();
    if (!arr) {  // where allowed, one value stands for a list of one (rdb = "dump.rdb")
      if (!one_for_many) return std::nullopt;
      auto one = scalar(n, kind == SettingKind::IntList ? SettingKind::Integer : SettingKind::String);
      if (!one) return std::nullopt;
      return std::vector<std::string>{*one};
    }
    std::vector<std::string> out;
    for (const auto& element : *arr) {
      auto v = scalar(element, kind == SettingKind::IntList ? SettingKind::Integer : SettingKind::String);
      if (!v) return std::nullopt;
      out.push_back(*v);
    }
    return out;
  }
  auto v = scalar(n, kind);
  if (!v) return std::nullopt;
  return std::vector<std::string>{*v};
}

std::string sections_list() {
  std::vector<std::string> names;
  for (const auto& s : task_settings())
    if (*s.section && std::find(names.begin(), names.end(), std::string("[") + s.section + "]") == names.end())
      names.push_back(std::string("[") + s.section + "]");
  return fmt::format("{}", fmt::join(names, ", "));
}

std::string keys_in(const std::string& section) {
  std::vector<std::string> names;
  for (const auto& s : task_settings())
    if (section == s.section) names.push_back(s.key);
  return fmt::format("{}", fmt::join(names, ", "));
}

const TaskSetting* setting_in(const std::string& section, const std::string& key) {
  for (const auto& s : task_settings())
    if (section == s.section && key == s.key) return &s;
  return nullptr;
}

}  // namespace

std::vector<ConfigProblem> read_task_file(const std::string& path, TaskConfig& config, const std::set<std::string>& keep) {
  if (std::filesystem::is_directory(path)) return {{0, 0, "is a directory, not a task file"}};
  std::ifstream in(path);
  if (!in) return {{0, 0, "cannot be read (no such file)"}};
  return parse_task_file(std::string(std::istreambuf_iterator<char>(in), {}), path, config, keep);
}

std::vector<ConfigProblem> parse_task_file(const std::string& text, const std::string& path, TaskConfig& config,
                                           const std::set<std::string>& keep) {
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
  auto apply = [&](const TaskSetting& setting, const toml::node& n) {
    auto values = as_values(n, setting.kind, setting.one_for_many);
    if (!values) {
      problem_at(n.source(), fmt::format("'{}' must be {}, not {}", setting.qualified(), kind_name(setting.kind), type_name(n)));
      return;
    }
    if (keep.count(setting.qualified())) return;  // the command line wins
    if (values->empty()) return;                   // an empty list: the default
    try {
      setting.set(config, *values);
    } catch (const FerryError& e) {
      problem_at(n.source(), fmt::format("'{}': {}", setting.qualified(), e.what()));
    }
  };
  for (const auto& [name, node] : root) {
    std::string top(name.str());
    const toml::table* section = node.as_table();
    if (section && !keys_in(top).empty()) {
      for (const auto& [sub, value] : *section) {
        std::string key(sub.str());
        if (const TaskSetting* s = setting_in(top, key)) apply(*s, value);
        else problem_at(sub.source(), fmt::format("unknown key '{}' in [{}] (known: {})", key, top, keys_in(top)));
      }
      continue;
    }
    if (const TaskSetting* s = setting_in("", top)) apply(*s, node);
    else if (section) problem_at(name.source(), fmt::format("unknown section [{}] (sections: {})", top, sections_list()));
    else problem_at(name.source(), fmt::format("unknown key '{}' (top-level keys: {}; sections: {})", top, keys_in(""), sections_list()));
  }
  std::stable_sort(problems.begin(), problems.end(), [](const ConfigProblem& a, const ConfigProblem& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  return problems;
}

void throw_config_problems(const std::string& path, const std::vector<ConfigProblem>& problems) {
  if (problems.empty()) return;
  std::string text = fmt::format("task file '{}' has {} problem(s):", path, problems.size());
  for (const auto& p : problems)
    text += p.line ? fmt::format("\n  {}:{}:{}: {}", path, p.line, p.column, p.message) : fmt::format("\n  {}: {}", path, p.message);
  throw FerryError(ExitCode::Usage, text);
}

const char* task_file_example() {
  return R"(# ferry task file: `ferry migrate --config FILE` (or `ferry precheck --config FILE`).
# Every key is optional and shows its default; a flag given on the command line wins over the file.
# Check a file with `ferry config check FILE`.

mode = "scan"               # scan | snapshot | sync | rdb | aof
task-id = ""                # names the heartbeat key ferry:heartbeat:<task-id> (default: from source and target)
rdb = ""                    # the RDB file of --mode rdb
aof = ""                    # the AOF of --mode aof: a file, an appendonly directory or its manifest
aof-until = 0               # --mode aof: stop at the first #TS: annotation past these Unix seconds (0: all)
accept-warnings = false     # migrate despite precheck warnings (and exit 0 with only warnings)
skip-check = []             # precheck checks whose outcome is ignored, e.g. ["target-memory"]

[source]
uri = "redis://127.0.0.1:6379"   # redis://[user[:password]@]host:port[/db]; not used by modes "rdb", "aof"
password-file = ""               # a file holding the password (or user:password); wins over everything
# password = "..."               # used when neither the URI, the file nor FERRY_SOURCE_PASSWORD gives one
read = "master"                  # a cluster source: master | replica | prefer-replica (node of each shard read)
shards = []                      # a cluster source: only these shards, by index or node id (empty: all)
tls = false                      # TLS (rediss:// in the URI means the same); the certificate is checked
tls-ca = ""                      # PEM CA file to trust (default: the system's CA store)
tls-cert = ""                    # PEM client certificate, for a server with tls-auth-clients
tls-key = ""                     # its unencrypted PEM key
tls-server-name = ""             # the name checked against the certificate and sent as SNI (default: the host)
tls-insecure = false             # skip the certificate checks (still encrypted)

[target]
uri = "redis://127.0.0.1:6380"
password-file = ""
# password = "..."
tls = false                      # the same TLS keys as [source]
tls-ca = ""
tls-cert = ""
tls-key = ""
tls-server-name = ""
tls-insecure = false

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
publish = true              # apply the stream's PUBLISH commands (false: left out and counted)
cross-slot = "stop"         # cluster target: a transaction spanning slots stops the task | "split" per slot
max-ops = 0                 # commands applied per second at most (0: no limit)
max-bytes = 0               # bytes applied per second at most (0: no limit)
retry-connection = 43200    # seconds a broken link to the source is retried (partial resync)
retry-other = 600           # seconds a target that went away is retried (then a full resync)
state = ""                  # file keeping the task's position: a restarted task resumes from it
unsafe-resync-append = false  # UNSAFE, for reproducing failures: a full resync appends instead of replacing
spool-dir = ""              # read the link at full speed into files here

[transform]
script = ""                 # a Lua file: on_key(k) and on_command(c) rename, move, drop or change what is copied
budget-ms = 1000            # milliseconds one call of the script may run before the task stops

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
log-status-every = 30       # seconds between log lines with the progress, rate and lag (0: none)
metrics-listen = ""         # HOST:PORT (or a port: 127.0.0.1) serving /metrics and /status while the task runs
alert-lag-ms = 0            # lag-high when the stream lags more than this many ms (0: no lag alert) ...
alert-for = 10              # ... for this many seconds; lag-resolved when it is back
alert-exec = ""             # run for each alert with /bin/sh -c: the event as JSON on stdin, $FERRY_ALERT_EVENT
alert-timeout = 10          # seconds an alert command may run before it is killed
)";
}

}  // namespace ferry
