// Everything that describes a migration task, shared by `ferry migrate` and `ferry precheck`: set by
// flags, or by a TOML task file (--config FILE) whose keys mirror the flags. A flag given on the
// command line wins over the file. The file's values go through the same CLI11 validators as the
// flags, so a bad value reads the same either way, with the file's line and column.
#pragma once

#include "common_options.h"
#include "precheck/precheck.h"
#include "task/copy_options.h"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace ferry::cli {

struct TaskOptions {
  ConnectionOptions conn;
  LogOptions log;
  std::string config_file;
  std::string mode = "scan";
  std::vector<int> dbs;
  std::string db_map;
  std::vector<std::string> include, exclude;
  std::string on_conflict = "block";
  long long ttl_extend_s = 0;
  std::string write_mode = "auto";
  bool accept_warnings = false;
  std::vector<std::string> skip_checks;
  std::string report_path;
  size_t big_key_bytes = 4 << 20;
  size_t scan_count = 1000;
  std::string progress = "auto";
  std::string rdb_file;
  bool skip_unsupported = false;
  bool until_caught_up = false;
  bool block_flush = false;
  bool no_heartbeat = false;
  bool unsafe_resync_append = false;
  std::string task_id;
  long long max_ops = 0;
  long long max_bytes = 0;
  long long retry_connection = 43200;
  long long retry_other = 600;
  std::string spool_dir;
  std::string state_file;
  std::string source_password, target_password;  // `password` keys of a task file (no flag)

  // Registers every task option on a subcommand.
  void add_to(CLI::App& app);
  // After the command line is parsed: fills what it left unset from --config (exit 3 with every
  // mistake of the file, each with line and column), then checks the options fit together.
  void finish(CLI::App& app);

  Endpoint source_endpoint() const;
  Endpoint target_endpoint() const;
  // The DBs, mapping and filters checked and resolved (the source URI's /db counts as --db).
  CopyOptions copy_options() const;
  PrecheckOptions precheck_options() const;
};

// One mistake in a task file, where it is.
struct ConfigProblem {
  long line = 0, column = 0;
  std::string message;
};

// Reads a task file into the options of `app` (registered by TaskOptions::add_to) that the command
// line did not set. Returns every problem found; applies nothing after a syntax error.
std::vector<ConfigProblem> load_task_file(const std::string& path, CLI::App& app, TaskOptions& options);
// The same from text (`path` names it in messages).
std::vector<ConfigProblem> parse_task_file(const std::string& text, const std::string& path, CLI::App& app, TaskOptions& options);

// A commented task file naming every key with its default: `ferry config example`.
const char* task_file_example();

// The keys a task file may hold ("section.key" or "key"), for tests and the README.
std::vector<std::string> task_file_keys();

}  // namespace ferry::cli
