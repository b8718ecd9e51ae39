#include "core/log.h"

#include "core/error.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <mutex>

namespace ferry::log {
namespace {

struct Sink {
  std::mutex mutex;
  Level console = Level::Info;
  Level file_level = Level::Off;
  std::FILE* file = nullptr;
  std::function<void(Level, std::string_view)> observer;
};

Sink& sink() {
  static Sink s;
  return s;
}

const char* level_name(Level level) {
  switch (level) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
    case Level::Off: return "off";
  }
  return "?";
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = ms / 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, ms % 1000);
}

}  // namespace

Level parse_level(std::string_view text) {
  if (text == "debug") return Level::Debug;
  if (text == "info") return Level::Info;
  if (text == "warn" || text == "warning") return Level::Warn;
  if (text == "error") return Level::Error;
  if (text == "off") return Level::Off;
  throw FerryError(ExitCode::Usage, fmt::format("unknown log level '{}' (debug|info|warn|error|off)", text));
}

void configure(Level console, const std::string& file_path, Level file_level) {
  auto& s = sink();
  std::lock_guard lock(s.mutex);
  s.console = console;
  if (s.file) {
    std::fclose(s.file);
    s.file = nullptr;
  }
  s.file_level = Level::Off;
  if (!file_path.empty()) {
    s.file = std::fopen(file_path.c_str(), "a");
    if (!s.file) throw FerryError(ExitCode::Usage, fmt::format("cannot open log file '{}'", file_path));
    s.file_level = file_level;
  }
}

bool enabled(Level level) {
  auto& s = sink();
  return level >= s.console || (s.file && level >= s.file_level);
}

void write(Level level, std::string_view message) {
  auto& s = sink();
  std::lock_guard lock(s.mutex);
  if (level >= s.console) fmt::print(stderr, "ferry: {}{}\n", level >= Level::Warn ? fmt::format("{}: ", level_name(level)) : "", message);
  if (s.file && level >= s.file_level) {
    fmt::print(s.file, "{} {:5} {}\n", timestamp(), level_name(level), message);
    std::fflush(s.file);
  }
  if (s.observer && level >= Level::Warn) s.observer(level, message);
}

void set_observer(std::function<void(Level, std::string_view)> observer) {
  auto& s = sink();
  std::lock_guard lock(s.mutex);
  s.observer = std::move(observer);
}

std::string printable(std::string_view bytes, size_t max_len) {
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (out.size() >= max_len) {
      out += fmt::format("...({} bytes)", bytes.size());
      break;
    }
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') out.push_back(static_cast<char>(c));
    else out += fmt::format("\\x{:02x}", c);
  }
  return out;
}

}  // namespace ferry::log
