#include "task/aof_file_check.h"

#include "aof/aof_reader.h"
#include "core/log.h"
#include "io/byte_source.h"
#include "rdb/rdb_input.h"
#include "sink/stream_stats.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <ctime>
#include <strings.h>

namespace ferry {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A command whose expiry counts from when it runs (Redis writes absolute ones to its AOF, but a
// hand-made or converted file may hold these).
bool relative_expiry(const std::string& name, const resp::Args& args) {
  if (name == "expire" || name == "pexpire" || name == "setex" || name == "psetex") return true;
  if (name == "set" || name == "getex")
    for (size_t i = name == "set" ? 3 : 2; i < args.size(); ++i)
      if (strcasecmp(args[i].c_str(), "EX") == 0 || strcasecmp(args[i].c_str(), "PX") == 0) return true;
  return false;
}

// The file begins "REDIS": an RDB (a base, or a preamble before commands), as the loader tells.
bool starts_with_rdb(io::FileSource& file) {
  char sig[5];
  size_t got = 0;
  while (got < 5) {
    size_t n = file.read_some(sig + got, 5 - got);
    if (n == 0) return false;
    got += n;
  }
  return std::memcmp(sig, "REDIS", 5) == 0;
}

// "1767225600 (2026-01-01 00:00:00 UTC)"; the number alone when it is no calendar time (a #TS:
// annotation holds any digits).
std::string when(long long unix_seconds) {
  std::tm tm{};
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  if (!::gmtime_r(&t, &tm) || tm.tm_year > 9000) return std::to_string(unix_seconds);
  return fmt::format("{} ({:%Y-%m-%d %H:%M:%S} UTC)", unix_seconds, tm);
}

}  // namespace

AofFacts check_aof(const aof::AofLayout& layout, const AofCheckOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  AofFacts facts;
  facts.layout = layout;
  for (size_t i = 0; i < layout.parts.size() && !facts.cut; ++i) {
    const aof::AofPart& part = layout.parts[i];
    const bool last = i + 1 == layout.parts.size();
    const std::string name = layout.manifest.empty() ? part.path : fmt::format("{} file {}", aof::part_type_name(part.type), part.path);
    AofFileFacts f;
    f.part = part;
    io::FileSource file(part.path);
    f.size = file.size().value_or(0);
    f.format = f.size == 0 ? "empty" : "resp";
    if (starts_with_rdb(file)) {
      try {
        f.rdb = check_rdb_file(part.path, options.work_dir);
      } catch (const rdb::RdbError& e) {
        throw aof::AofError(fmt::format("{}: its RDB {} is unreadable: {} (redis-server: \"Error reading the RDB {}\")", name,
                                        part.type == aof::PartType::Base ? "base" : "preamble", e.what(),
                                        part.type == aof::PartType::Base ? "base file" : "preamble of the AOF file"));
      }
      f.commands_from = f.rdb->end;
      f.format = f.commands_from < f.size ? "rdb-preamble" : "rdb";
      if (options.until && f.rdb->aux.count("ctime")) {
        const long long ctime = std::atoll(f.rdb->aux.at("ctime").c_str());
        if (ctime > *options.until)
          throw FerryError(ExitCode::Usage,
                           fmt::format("--aof-until {}: {}'s RDB part was written at {}, after that time; an AOF restores "
                                       "points in time after its last rewrite only",
                                       when(*options.until), name, when(ctime)));
      }
    }
    f.apply_end = f.commands_from;
    aof::AofCommandStream stream(part.path, f.commands_from, name);
    aof::AofItem item;
    bool in_multi = false;
    uint64_t multi_at = 0;  // the open MULTI's offset
    uint64_t queued = 0;
    int db = 0;  // every file starts in DB 0
    while (stream.next(item)) {
      if (item.kind != aof::AofItem::Kind::Command) {
        ++f.annotations;
        if (options.until && item.malformed_timestamp)
          throw aof::AofError(fmt::format("{}: a #TS: annotation at offset {} is not a number of seconds; --aof-until "
                                          "cannot tell where that point is (redis-check-aof: \"Invalid timestamp "
                                          "annotation\")",
                                          name, item.offset));
        if (item.kind != aof::AofItem::Kind::Timestamp) continue;
        if (options.until && item.timestamp > *options.until) {
          if (i == 0 && f.commands == 0 && !f.rdb)
            throw FerryError(ExitCode::Usage,
                             fmt::format("--aof-until {}: {} holds nothing before that time (its first annotation says {}); "
                                         "an AOF restores points in time after its last rewrite only",
                                         when(*options.until), name, when(item.timestamp)));
          facts.cut = AofFacts::Cut{i, item.offset, item.timestamp};
          f.apply_end = in_multi ? multi_at : item.offset;
          f.dropped = fmt::format("from offset {} on: the first #TS: annotation past --aof-until {} ({}){}", item.offset,
                                  *options.until, when(item.timestamp),
                                  in_multi ? fmt::format(", and the MULTI open there from offset {}", multi_at) : "");
          break;
        }
        if (!f.first_ts) f.first_ts = item.timestamp;
        f.last_ts = item.timestamp;
        continue;
      }
      ++f.commands;
      const std::string cmd = lower(item.args[0]);
      ++f.per_command[cmd];
      if (cmd == "select" && item.args.size() > 1) db = std::atoi(item.args[1].c_str());
      else if (cmd != "multi" && cmd != "exec") f.dbs.insert(db);
      if (relative_expiry(cmd, item.args)) ++f.relative_expiries;
      if (cmd == "multi") {
        if (!in_multi) multi_at = item.offset;
        in_multi = true;
        queued = 0;
        continue;
      }
      if (cmd == "exec" && in_multi) {
        in_multi = false;
        ++f.transactions;
      } else if (in_multi) {
        ++queued;
        continue;
      }
      f.apply_end = item.end;
    }
    if (!facts.cut) {
      std::optional<uint64_t> short_at = stream.truncated_at();
      if (short_at || in_multi) {
        const std::string what =
            short_at ? fmt::format("ends inside a command at offset {} of {} bytes{}", *short_at, f.size,
                                   in_multi ? fmt::format(" (in a MULTI from offset {})", multi_at) : "")
                     : fmt::format("ends inside a MULTI (from offset {}, {} commands queued) without EXEC", multi_at, queued);
        if (!last)
          throw aof::AofError(fmt::format("{} {}, and it is not the last file: redis-server refuses to load it (\"the "
                                          "truncated file is not the last file\"); nothing was written",
                                          name, what));
        f.dropped = fmt::format("{} {}: dropped from offset {} on, as redis-server does with aof-load-truncated yes", name,
                                what, f.apply_end);
      }
    }
    if (f.rdb) f.dbs.insert(f.rdb->dbs.begin(), f.rdb->dbs.end());
    facts.files.push_back(std::move(f));
  }
  if (options.until) {
    bool any_ts = facts.cut.has_value();
    for (const auto& f : facts.files) any_ts = any_ts || f.first_ts;
    if (!any_ts)
      throw FerryError(ExitCode::Usage,
                       fmt::format("--aof-until: {} holds no #TS: annotations (Redis writes them with "
                                   "aof-timestamp-enabled yes), so no point in time can be found in it",
                                   layout.describe()));
  }
  facts.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return facts;
}

uint64_t AofFacts::total_size() const {
  uint64_t n = 0;
  for (const auto& f : files) n += f.size;
  return n;
}

uint64_t AofFacts::commands() const {
  uint64_t n = 0;
  for (const auto& f : files) n += f.commands;
  return n;
}

std::vector<std::string> AofFacts::warnings() const {
  std::vector<std::string> out;
  for (const auto& f : files)
    if (!f.dropped.empty() && !(cut && &f == &files[cut->file])) out.push_back(f.dropped);
  return out;
}

nlohmann::json AofFacts::to_json() const {
  nlohmann::json j;
  // Names and paths come from the manifest too (any bytes, with \xHH): JSON holds UTF-8 only.
  auto text = [](const std::string& s) { return log::printable(s, 4096); };
  j["input"] = text(layout.input);
  j["manifest"] = layout.manifest.empty() ? nlohmann::json() : nlohmann::json(text(layout.manifest));
  j["history"] = nlohmann::json::array();
  for (const auto& h : layout.history) j["history"].push_back(text(h));
  j["files"] = nlohmann::json::array();
  for (const auto& f : files) {
    nlohmann::json e{{"name", text(f.part.name)},     {"path", text(f.part.path)},         {"type", aof::part_type_name(f.part.type)},
                     {"seq", f.part.seq},             {"size", f.size},              {"format", f.format},
                     {"commands_from", f.commands_from}, {"commands", f.commands},   {"per_command", printable_counts(f.per_command)},
                     {"dbs", f.dbs},                  {"transactions", f.transactions}, {"annotations", f.annotations},
                     {"relative_expiries", f.relative_expiries}, {"apply_end", f.apply_end}};
    e["first_ts"] = f.first_ts ? nlohmann::json(*f.first_ts) : nlohmann::json();
    e["last_ts"] = f.last_ts ? nlohmann::json(*f.last_ts) : nlohmann::json();
    e["dropped"] = f.dropped.empty() ? nlohmann::json() : nlohmann::json(text(f.dropped));
    if (f.rdb) {
      nlohmann::json aux = nlohmann::json::object();
      for (const auto& [name, value] : f.rdb->aux) aux[log::printable(name, 64)] = log::printable(value);
      e["rdb"] = {{"version", f.rdb->version}, {"keys", f.rdb->keys}, {"end", f.rdb->end},
                  {"checksum_verified", f.rdb->checksum_verified}, {"aux", aux}};
    }
    j["files"].push_back(std::move(e));
  }
  if (cut) j["until_cut"] = {{"file", text(files[cut->file].part.name)}, {"offset", cut->offset}, {"timestamp", cut->timestamp}};
  j["truncated"] = !warnings().empty();
  j["size"] = total_size();
  j["commands"] = commands();
  j["seconds"] = seconds;
  return j;
}

std::string AofFacts::to_text() const {
  std::string out = layout.describe() + "\n";
  if (!layout.manifest.empty()) out += fmt::format("  manifest          {}\n", layout.manifest);
  if (!layout.history.empty())
    out += fmt::format("  history files     {} (listed in the manifest, never loaded)\n", fmt::join(layout.history, ", "));
  std::map<std::string, uint64_t> per_command;
  std::set<int> dbs;
  std::optional<long long> first, last;
  for (const auto& f : files) {
    out += fmt::format("  {:<5} {:>4}  {}  {} bytes, {}", aof::part_type_name(f.part.type),
                       f.part.seq ? std::to_string(f.part.seq) : "-", f.part.name, f.size, f.format);
    if (f.rdb)
      out += fmt::format(" (RDB {}{}, {} keys, {} bytes{})", f.rdb->version,
                         f.rdb->aux.count("redis-ver") ? " from Redis " + log::printable(f.rdb->aux.at("redis-ver"), 32) : "", f.rdb->keys,
                         f.rdb->end, f.rdb->checksum_verified ? ", CRC64 verified" : "");
    if (f.format == "resp" || f.format == "rdb-preamble")
      out += fmt::format(", {} commands ({} MULTI/EXEC)", f.commands, f.transactions);
    out += "\n";
    if (!f.dropped.empty()) out += "        dropped: " + f.dropped + "\n";
    for (const auto& [name, n] : f.per_command) per_command[name] += n;
    dbs.insert(f.dbs.begin(), f.dbs.end());
    if (f.first_ts && !first) first = f.first_ts;
    if (f.last_ts) last = f.last_ts;
  }
  out += fmt::format("  DBs               {}\n", dbs.empty() ? "none" : fmt::format("{}", fmt::join(dbs, ", ")));
  out += fmt::format("  timestamps        {}\n",
                     first ? fmt::format("first {}, last {}", when(*first), when(*last))
                           : "none (#TS: annotations need aof-timestamp-enabled yes)");
  std::vector<std::pair<uint64_t, std::string>> by_count;
  for (const auto& [name, n] : per_command) by_count.emplace_back(n, name);
  std::sort(by_count.rbegin(), by_count.rend());
  std::string names;
  for (const auto& [n, name] : by_count)
    names += fmt::format("{}{} {}", names.empty() ? "" : ", ", log::printable(name, 64), n);
  out += fmt::format("  commands          {} in all{}{}\n", commands(), names.empty() ? "" : ": ", names);
  if (cut) out += fmt::format("  --aof-until cut   {} offset {}\n", files[cut->file].part.name, cut->offset);
  const auto w = warnings();
  out += fmt::format("  truncation        {}\n", w.empty() ? "none: every file is whole" : fmt::format("{}", fmt::join(w, "; ")));
  return out;
}

}  // namespace ferry
