// Leveled logging to stderr and, optionally, a file. Never pass credentials here: endpoints are
// logged through Endpoint::describe(), which has no password in it.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <string>
#include <string_view>

namespace ferry::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

// Parses "debug|info|warn|error|off"; throws FerryError(Usage) on anything else.
Level parse_level(std::string_view text);

// Stderr shows messages at `console` level and above; the file (if opened) at `file_level`.
void configure(Level console, const std::string& file_path = {}, Level file_level = Level::Debug);
bool enabled(Level level);
// Also hands each warning and error written to `observer` (the task monitor's "last error"); it
// runs under the log's lock and must not log. Null: none.
void set_observer(std::function<void(Level, std::string_view)> observer);
void write(Level level, std::string_view message);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::Debug)) write(Level::Debug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::Info)) write(Level::Info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::Warn)) write(Level::Warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::Error)) write(Level::Error, fmt::format(f, std::forward<Args>(args)...));
}

// Makes a key or value printable in a log line: non-printable bytes become \xNN, long ones are cut.
std::string printable(std::string_view bytes, size_t max_len = 120);

}  // namespace ferry::log
