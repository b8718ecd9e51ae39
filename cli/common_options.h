// Options shared by the subcommands: the two endpoints with their password sources, timeouts,
// pipelining and logging. Registered on a CLI11 subcommand, resolved into engine types.
#pragma once

#include "redis/connection.h"

#include <CLI/CLI.hpp>

#include <string>

namespace ferry::cli {

// Validators with messages fit for a person (CLI11's own print the range of a double).
const CLI::Validator& non_negative();
const CLI::Validator& positive();

// This binary's path (/proc/self/exe; "build/ferry" if unreadable): the ferry that child tasks run.
std::string self_path();

// A 64-bit seed from the system's entropy (for --seed random; callers print it).
uint64_t random_seed();

struct EndpointOptions {
  std::string uri;
  std::string password_file;
};

struct ConnectionOptions {
  EndpointOptions source, target;
  double connect_timeout_s = 5;
  double read_timeout_s = 60;
  size_t pipeline_commands = 8192;
  size_t pipeline_bytes = 8 << 20;

  void add_to(CLI::App& app, bool target_required = true, bool source_required = true);
  Timeouts timeouts() const;
  PipelineLimits pipeline() const;
  Endpoint source_endpoint() const;
  Endpoint target_endpoint() const;
};

struct LogOptions {
  std::string file;
  std::string level = "info";
  void add_to(CLI::App& app);
  void apply() const;
};

}  // namespace ferry::cli
