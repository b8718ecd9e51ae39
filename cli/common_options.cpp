#include "common_options.h"

#include "core/log.h"

#include <filesystem>
#include <random>

namespace ferry::cli {

namespace {
CLI::Validator number_at_least(double least, const char* what) {
  return CLI::Validator(
      [least, what](std::string& value) -> std::string {
        char* end = nullptr;
        double v = std::strtod(value.c_str(), &end);
        if (value.empty() || *end) return "'" + value + "' is not a number";
        if (v < least) return "'" + value + "' must be " + what;
        return {};
      },
      what);
}
}  // namespace

const CLI::Validator& non_negative() {
  static const CLI::Validator v = number_at_least(0, "0 or more");
  return v;
}

const CLI::Validator& positive() {
  static const CLI::Validator v = number_at_least(1e-9, "more than 0");
  return v;
}

std::string self_path() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "build/ferry" : p.string();
}

uint64_t random_seed() {
  std::random_device rd;
  return rd() | (static_cast<uint64_t>(rd()) << 32);
}

void ConnectionOptions::add_to(CLI::App& app, bool target_required, bool source_required) {
  auto* s = app.add_option("--source", source.uri, "Source server: redis://[user[:password]@]host:port[/db]");
  if (source_required) s->required();
  auto* t = app.add_option("--target", target.uri, "Target server: redis://[user[:password]@]host:port");
  if (target_required) t->required();
  app.add_option("--source-password-file", source.password_file,
                 "Read the source password (or user:password) from this file; FERRY_SOURCE_PASSWORD also works");
  app.add_option("--target-password-file", target.password_file,
                 "Read the target password (or user:password) from this file; FERRY_TARGET_PASSWORD also works");
  app.add_option("--connect-timeout", connect_timeout_s, "Seconds to wait for a connection")
      ->capture_default_str()->check(positive());
  app.add_option("--read-timeout", read_timeout_s, "Seconds to wait for a reply")
      ->capture_default_str()->check(positive());
  app.add_option("--pipeline-commands", pipeline_commands, "Commands in flight per connection at most")
      ->capture_default_str()->check(CLI::Range(size_t{1}, size_t{1} << 20));
  app.add_option("--pipeline-bytes", pipeline_bytes, "Bytes in flight per connection at most (suffixes K, M, G)")
      ->capture_default_str()->transform(CLI::AsSizeValue(false));
}

Timeouts ConnectionOptions::timeouts() const {
  return Timeouts{std::chrono::milliseconds(static_cast<long long>(connect_timeout_s * 1000)),
                  std::chrono::milliseconds(static_cast<long long>(read_timeout_s * 1000))};
}

PipelineLimits ConnectionOptions::pipeline() const { return PipelineLimits{pipeline_commands, pipeline_bytes}; }

Endpoint ConnectionOptions::source_endpoint() const {
  Endpoint ep = parse_redis_uri(source.uri, "source");
  resolve_password(ep, source.password_file, "FERRY_SOURCE_PASSWORD");
  return ep;
}

Endpoint ConnectionOptions::target_endpoint() const {
  Endpoint ep = parse_redis_uri(target.uri, "target");
  resolve_password(ep, target.password_file, "FERRY_TARGET_PASSWORD");
  return ep;
}

void LogOptions::add_to(CLI::App& app) {
  app.add_option("--log-file", file, "Also write the log, with timestamps and debug detail, to this file");
  app.add_option("--log-level", level, "Console log level: debug, info, warn, error, off")->capture_default_str();
}

void LogOptions::apply() const { log::configure(log::parse_level(level), file); }

}  // namespace ferry::cli
