#include "proxy/fault_spec.h"

#include "core/error.h"

#include <fmt/format.h>

#include <cstdlib>
#include <map>

namespace ferry::sim {
namespace {

// "100", "64K", "2M": bytes.
uint64_t parse_size(const std::string& text, const std::string& spec) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  uint64_t mult = 1;
  std::string suffix = end ? end : "";
  if (suffix == "k" || suffix == "K") mult = 1024;
  else if (suffix == "m" || suffix == "M") mult = 1024 * 1024;
  else if (suffix == "g" || suffix == "G") mult = 1024ULL * 1024 * 1024;
  else if (!suffix.empty() || text.empty() || text[0] == '-')
    throw FerryError(ExitCode::Usage, fmt::format("fault '{}': '{}' is not a size (e.g. 3000000, 64K, 2M)", spec, text));
  return v * mult;
}

long long parse_number(const std::string& text, const std::string& spec, const std::string& key) {
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end || v < 0)
    throw FerryError(ExitCode::Usage, fmt::format("fault '{}': {}={} is not a number of 0 or more", spec, key, text));
  return v;
}

}  // namespace

FaultSpec parse_fault_spec(const std::string& text) {
  static const std::map<std::string, FaultKind> kinds{
      {"latency", FaultKind::Latency}, {"bandwidth", FaultKind::Bandwidth}, {"slicer", FaultKind::Slicer},
      {"reset", FaultKind::Reset},     {"close", FaultKind::Close},         {"blackhole", FaultKind::Blackhole},
      {"refuse", FaultKind::Refuse}};
  FaultSpec f;
  f.text = text;
  std::string name = text.substr(0, text.find(':'));
  auto kind = kinds.find(name);
  if (kind == kinds.end())
    throw FerryError(ExitCode::Usage, fmt::format("fault '{}': unknown kind '{}' (latency, bandwidth, slicer, reset, close, "
                                                  "blackhole, refuse)",
                                                  text, name));
  f.kind = kind->second;
  std::string rest = text.size() > name.size() ? text.substr(name.size() + 1) : "";
  bool dir_given = false;
  size_t start = 0;
  while (start < rest.size()) {
    size_t end = rest.find(',', start);
    std::string part = rest.substr(start, end == std::string::npos ? std::string::npos : end - start);
    start = end == std::string::npos ? rest.size() : end + 1;
    auto eq = part.find('=');
    if (eq == std::string::npos)
      throw FerryError(ExitCode::Usage, fmt::format("fault '{}': '{}' is not KEY=VALUE", text, part));
    std::string key = part.substr(0, eq), value = part.substr(eq + 1);
    if (key == "dir") {
      if (value == "up") f.dir = Direction::Up;
      else if (value == "down") f.dir = Direction::Down;
      else if (value == "both") f.dir = Direction::Both;
      else throw FerryError(ExitCode::Usage, fmt::format("fault '{}': dir is up, down or both", text));
      dir_given = true;
    } else if (key == "at") {
      f.at_ms = parse_number(value, text, key);
    } else if (key == "for") {
      f.for_ms = parse_number(value, text, key);
    } else if (key == "after-bytes") {
      f.after_bytes = parse_size(value, text);
    } else if (key == "after-psync-bytes") {
      f.after_psync_bytes = parse_size(value, text);
    } else if (key == "ms" && f.kind == FaultKind::Latency) {
      f.ms = parse_number(value, text, key);
    } else if (key == "jitter" && f.kind == FaultKind::Latency) {
      f.jitter_ms = parse_number(value, text, key);
    } else if (key == "rate" && f.kind == FaultKind::Bandwidth) {
      f.rate = parse_size(value, text);
    } else if (key == "size" && f.kind == FaultKind::Slicer) {
      f.size = static_cast<size_t>(std::max<uint64_t>(1, parse_size(value, text)));
    } else if (key == "delay-us" && f.kind == FaultKind::Slicer) {
      f.delay_us = parse_number(value, text, key);
    } else {
      throw FerryError(ExitCode::Usage, fmt::format("fault '{}': '{}' is not a key of {} (see ferry sim proxy --help)", text, key, name));
    }
  }
  if (f.after_psync_bytes && !dir_given) f.dir = Direction::Down;
  if (f.kind == FaultKind::Bandwidth && f.rate == 0)
    throw FerryError(ExitCode::Usage, fmt::format("fault '{}': bandwidth needs rate=BYTES_PER_SECOND", text));
  if (f.kind == FaultKind::Latency && f.ms == 0 && f.jitter_ms == 0)
    throw FerryError(ExitCode::Usage, fmt::format("fault '{}': latency needs ms=N", text));
  return f;
}

const char* fault_spec_grammar() {
  return R"(A fault: KIND[:KEY=VALUE[,KEY=VALUE...]]
  latency:ms=N[,jitter=N]      delay each chunk by N ms (+- jitter, seeded)
  bandwidth:rate=BYTES         at most BYTES per second (suffixes K, M)
  slicer:size=N[,delay-us=N]   split writes into N-byte pieces, with a pause between them
  reset                        a real RST (linger 0) to both ends, now or at a trigger
  close                        a clean close (FIN) of both ends, now or at a trigger
  blackhole                    stop forwarding (the connection stays open), for=MS or until removed
  refuse                       refuse new connections, for=MS or until removed
Keys of every kind:
  dir=up|down|both             up: client -> server, down: server -> client (default both)
  at=MS                        becomes active MS after it is added (default now)
  for=MS                       lasts MS once active (default until removed)
  after-bytes=N                acts once N bytes passed in dir on a connection (reset/close cut there)
  after-psync-bytes=N          acts once N bytes passed server -> client after the client sent
                               PSYNC or SYNC (the middle of a snapshot)
Examples: latency:ms=100,jitter=20   reset:after-psync-bytes=3000000   blackhole:at=2000,for=5000)";
}

}  // namespace ferry::sim
