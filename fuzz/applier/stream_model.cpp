#include "applier/stream_model.h"

#include "redis/command_keys.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace ferry::fuzz {
namespace {

const char* const kKeys[] = {"a", "b", "x:1", "x:2"};
constexpr long long kBaseMs = 1'900'000'000'000;  // absolute expiries in the stream: 2030

std::string num(long long n) { return std::to_string(n); }

}  // namespace

std::vector<Command> decode_stream(const std::vector<StreamToken>& tokens) {
  std::vector<Command> out;
  bool open = false;  // inside MULTI
  for (const auto& [op_raw, k_raw, k2_raw, db_raw, n_raw] : tokens) {
    const int op = std::abs(op_raw) % kOperations;
    const std::string k = kKeys[std::abs(k_raw) % 4], k2 = kKeys[std::abs(k2_raw) % 4];
    const int db = std::abs(db_raw) % 4;
    const long long n = std::abs(n_raw) % 100'000;
    const std::string v = "v" + num(n);
    switch (op) {
      case 0: out.push_back({"SET", k, v}); break;
      case 1: out.push_back({"SELECT", num(db)}); break;
      case 2: out.push_back({"HINCRBY", k, "f", num(n)}); break;
      case 3: out.push_back({"RPUSH", k, v}); break;
      case 4: out.push_back({"SADD", k, v}); break;
      case 5: out.push_back({"ZADD", k, num(n), v}); break;
      case 6: out.push_back({"INCRBY", k, num(n)}); break;
      case 7: out.push_back({"DEL", k, k2}); break;
      case 8: out.push_back({"MSET", k, v, k2, v}); break;
      case 9: out.push_back({"EXPIRE", k, num(n + 1)}); break;
      case 10: out.push_back({"PEXPIRE", k, num(100 * n + 1)}); break;
      case 11: out.push_back({"EXPIREAT", k, num(kBaseMs / 1000 + n)}); break;
      case 12: out.push_back({"PEXPIREAT", k, num(kBaseMs + n)}); break;
      case 13: out.push_back({"SETEX", k, num(n + 1), v}); break;
      case 14: out.push_back({"PSETEX", k, num(100 * n + 1), v}); break;
      case 15: {
        const char* form[] = {"EX", "PX", "EXAT", "PXAT"};
        long long value[] = {n + 1, 100 * n + 1, kBaseMs / 1000 + n, kBaseMs + n};
        out.push_back({"SET", k, v, form[db], num(value[db])});
        break;
      }
      case 16: {
        const char* form[] = {"EX", "PX", "EXAT", "PXAT"};
        long long value[] = {n + 1, 100 * n + 1, kBaseMs / 1000 + n, kBaseMs + n};
        if (n % 5 == 4) out.push_back({"GETEX", k, "PERSIST"});
        else out.push_back({"GETEX", k, form[n % 4], num(value[n % 4])});
        break;
      }
      case 17:
        if (db % 3 == 0) out.push_back({"RESTORE", k, "0", "payload", "REPLACE"});
        else if (db % 3 == 1) out.push_back({"RESTORE", k, num(100 * n + 1), "payload", "REPLACE"});
        else out.push_back({"RESTORE", k, num(kBaseMs + n), "payload", "REPLACE", "ABSTTL"});
        break;
      case 18: out.push_back({"RENAME", k, k2}); break;
      case 19: out.push_back({"SMOVE", k, k2, v}); break;
      case 20: out.push_back({n % 2 ? "LMOVE" : "lmove", k, k2, n % 2 ? "LEFT" : "right", "RIGHT"}); break;
      case 21: out.push_back({"SUNIONSTORE", k, k2, kKeys[(std::abs(k_raw) + std::abs(k2_raw) + 1) % 4]}); break;
      case 22:
        if (n % 2) out.push_back({"COPY", k, k2, "DB", num(db), "REPLACE"});
        else out.push_back({"COPY", k, k2});
        break;
      case 23: out.push_back({"MOVE", k, num(db)}); break;
      case 24: out.push_back({"SWAPDB", num(db), num(n % 4)}); break;
      case 25: out.push_back({"FLUSHDB"}); break;
      case 26: out.push_back({"FLUSHALL"}); break;
      case 27: if (!open) out.push_back({"PING"}); break;
      case 28: if (!open) out.push_back({"REPLCONF", "GETACK", "*"}); break;
      case 29: out.push_back({"SET", "ferry:heartbeat:task", num(kBaseMs + n), "PX", "5000"}); break;
      case 30:
        if (n % 2) out.push_back({"EVAL", "redis.call('SET', KEYS[1], ARGV[1])", "2", k, k2, v});
        else out.push_back({"EVALSHA", "0123456789abcdef0123456789abcdef01234567", "1", k, v});
        break;
      case 31: if (!open) out.push_back({"MULTI"}), open = true; break;
      case 32: if (open) out.push_back({"EXEC"}), open = false; break;
      case 33: out.push_back({"XADD", k, num(n + 1) + "-1", "f", v}); break;
      case 34: out.push_back({"set", k, v, "px", num(100 * n + 1)}); break;
      case 35: out.push_back({"UNLINK", k, k2}); break;
    }
  }
  return out;
}

std::string version_text(int v) { return fmt::format("{}.{}.{}", v / 10000, v / 100 % 100, v % 100); }

CaseOptions decode_options(const OptionsToken& token) {
  const auto& [dbs_mode, map_mode, filter_mode, ttl_mode, relative, target_mode] = token;
  CaseOptions c;
  const int versions[] = {70015, 60016, 80002};
  c.target_version = versions[std::abs(target_mode) % 3];
  StreamOptions& o = c.stream;
  const std::vector<int> dbs[] = {{}, {0}, {0, 1}, {1, 3}};
  o.dbs = dbs[std::abs(dbs_mode) % 4];
  const char* maps[] = {"", "0:5,5:0", "0:1,1:0", "1:7,7:1,3:2,2:3"};
  if (*maps[std::abs(map_mode) % 4]) o.db_map = DbMap::parse(maps[std::abs(map_mode) % 4]);
  switch (std::abs(filter_mode) % 5) {
    case 1: o.filter = KeyFilter({"x:*"}, {}); break;
    case 2: o.filter = KeyFilter({}, {"a"}); break;
    case 3: o.filter = KeyFilter({"re:^x:"}, {"x:2"}); break;
    case 4: o.filter = KeyFilter({"a", "x:1"}, {}); break;
    default: break;
  }
  const long long ttl[] = {0, 5000, 86'400'000};
  o.ttl_extend_ms = ttl[std::abs(ttl_mode) % 3];
  o.relative_expiries = relative;
  return c;
}

std::string describe_options(const CaseOptions& c) {
  const StreamOptions& o = c.stream;
  std::string dbs;
  for (int d : o.dbs) dbs += (dbs.empty() ? "" : ",") + num(d);
  return fmt::format("--db '{}' --db-map '{}' {} --ttl-extend {}ms{}, a {} target", dbs.empty() ? "all" : dbs,
                     o.db_map.describe(), o.filter.empty() ? "no filter" : o.filter.describe(), o.ttl_extend_ms,
                     o.relative_expiries ? ", relative expiries (source < 7.0)" : "", version_text(c.target_version));
}

namespace {

// The oracle: the documented rules, applied command by command.
class Oracle {
 public:
  explicit Oracle(const CaseOptions& c)
      : o_(c.stream), pxat_(c.target_version >= 60200), dbs_(o_.dbs.begin(), o_.dbs.end()) {}

  Expected run(const std::vector<Command>& stream) {
    std::optional<std::vector<Command>> queued;  // the body of an open MULTI: it runs at EXEC
    for (size_t i = 0; i < stream.size(); ++i) {
      const std::string name = ascii_upper(stream[i][0]);
      if (name == "MULTI") {
        queued.emplace();
      } else if (name == "EXEC") {
        TargetUnit tx{true, {}, i};
        for (const auto& c : *queued) translate(c, tx.commands);
        if (!tx.commands.empty()) out_.units.push_back(std::move(tx));
        queued.reset();
      } else if (queued) {
        queued->push_back(stream[i]);
      } else {
        std::vector<std::pair<int, Command>> emitted;
        translate(stream[i], emitted);
        for (auto& e : emitted) out_.units.push_back(TargetUnit{false, {std::move(e)}, i});
      }
    }
    return std::move(out_);
  }

 private:
  bool sel(int db) const { return dbs_.empty() || dbs_.count(db); }
  int map(int db) const { return o_.db_map.target(db); }
  bool key_sel(const std::string& k) const { return o_.filter.selects(k); }

  // Which arguments are keys this command writes, and which it only reads.
  static void roles(const Command& c, std::vector<size_t>& written, std::vector<size_t>& read) {
    const std::string name = ascii_upper(c[0]);
    if (name == "DEL" || name == "UNLINK") {
      for (size_t i = 1; i < c.size(); ++i) written.push_back(i);
    } else if (name == "MSET") {
      for (size_t i = 1; i < c.size(); i += 2) written.push_back(i);
    } else if (name == "RENAME" || name == "SMOVE" || name == "LMOVE") {
      written = {1, 2};
    } else if (name == "SUNIONSTORE") {
      written = {1};
      for (size_t i = 2; i < c.size(); ++i) read.push_back(i);
    } else if (name == "COPY") {
      written = {2};
      read = {1};
    } else if (name == "EVAL" || name == "EVALSHA") {
      for (long long k = 0; k < std::stoll(c[2]); ++k) written.push_back(3 + static_cast<size_t>(k));
    } else if (name != "FLUSHDB" && name != "FLUSHALL" && name != "SWAPDB" && name != "SELECT") {
      written = {1};
    }
  }

  // The key-filter rule. Returns false when the command is not applied; may rewrite it.
  bool filter(Command& c) {
    std::vector<size_t> written, read;
    roles(c, written, read);
    if (written.empty() && read.empty()) return true;
    auto is_sel = [&](size_t i) { return key_sel(c[i]); };
    if (std::none_of(written.begin(), written.end(), is_sel)) return false;  // filtered
    if (std::all_of(written.begin(), written.end(), is_sel) && std::all_of(read.begin(), read.end(), is_sel)) return true;
    const std::string name = ascii_upper(c[0]);
    if (name == "DEL" || name == "UNLINK") {
      Command kept{c[0]};
      for (size_t i = 1; i < c.size(); ++i)
        if (is_sel(i)) kept.push_back(c[i]);
      c = kept;
      return true;
    }
    if (name == "MSET") {
      Command kept{c[0]};
      for (size_t i = 1; i + 1 < c.size(); i += 2)
        if (is_sel(i)) kept.insert(kept.end(), {c[i], c[i + 1]});
      c = kept;
      return true;
    }
    if (is_sel(1) && !is_sel(2)) {  // the first key's content leaves the selection: it is removed
      if (name == "RENAME") return c = {"DEL", c[1]}, true;
      if (name == "SMOVE") return c = {"SREM", c[1], c[3]}, true;
      if (name == "LMOVE") return c = {ascii_upper(c[3]) == "LEFT" ? "LPOP" : "RPOP", c[1]}, true;
    }
    ++out_.unapplied;
    return false;
  }

  // Expiries become absolute when the source sends relative ones (older than 7.0) or when
  // --ttl-extend is set; the extension is added to every one.
  void expiry(Command& c) {
    if (!o_.relative_expiries && o_.ttl_extend_ms == 0 && pxat_) return;
    const long long ext = o_.ttl_extend_ms;
    auto rel = [&](long long ms) { return "@now+" + num(ms + ext); };
    const std::string name = ascii_upper(c[0]);
    if (name == "EXPIRE") c = {"PEXPIREAT", c[1], rel(std::stoll(c[2]) * 1000)};
    else if (name == "PEXPIRE") c = {"PEXPIREAT", c[1], rel(std::stoll(c[2]))};
    else if (name == "EXPIREAT" && ext) c = {"PEXPIREAT", c[1], num(std::stoll(c[2]) * 1000 + ext)};
    else if (name == "PEXPIREAT" && ext) c[2] = num(std::stoll(c[2]) + ext);
    else if (name == "SETEX") c = {"SET", c[1], c[3], "PXAT", rel(std::stoll(c[2]) * 1000)};
    else if (name == "PSETEX") c = {"SET", c[1], c[3], "PXAT", rel(std::stoll(c[2]))};
    else if (name == "SET" || name == "GETEX") {
      for (size_t i = 2; i + 1 < c.size(); ++i) {
        const std::string opt = ascii_upper(c[i]);
        long long v = std::atoll(c[i + 1].c_str());
        if (opt == "EX") c[i] = "PXAT", c[i + 1] = rel(v * 1000);
        else if (opt == "PX") c[i] = "PXAT", c[i + 1] = rel(v);
        else if (opt == "EXAT" && ext) c[i] = "PXAT", c[i + 1] = num(v * 1000 + ext);
        else if (opt == "PXAT" && ext) c[i + 1] = num(v + ext);
      }
    } else if (name == "RESTORE") {
      long long ttl = std::stoll(c[2]);
      bool absttl = std::find(c.begin(), c.end(), "ABSTTL") != c.end();
      if (ttl > 0 && absttl) c[2] = num(ttl + ext);
      else if (ttl > 0) c[2] = rel(ttl), c.push_back("ABSTTL");
    }
    // A target before 6.2 has no SET ... PXAT: the time left, as PX.
    if (!pxat_ && ascii_upper(c[0]) == "SET")
      for (size_t i = 3; i + 1 < c.size(); ++i)
        if (ascii_upper(c[i]) == "PXAT") c[i] = "PX", c[i + 1] = "@left:" + c[i + 1];
  }

  // A target before 6.2 has no LMOVE and no COPY: RPOPLPUSH, or a script doing the same.
  void old_target(Command& c) {
    if (pxat_) return;
    const std::string name = ascii_upper(c[0]);
    if (name == "LMOVE" && c.size() == 5) {
      const std::string from = ascii_upper(c[3]), to = ascii_upper(c[4]);
      if (from == "RIGHT" && to == "LEFT") c = {"RPOPLPUSH", c[1], c[2]};
      else
        c = {"EVAL", "local v = redis.call(ARGV[1], KEYS[1]) if v then redis.call(ARGV[2], KEYS[2], v) end return v", "2",
             c[1], c[2], from == "LEFT" ? "LPOP" : "RPOP", to == "LEFT" ? "LPUSH" : "RPUSH"};
    } else if (name == "COPY") {  // DUMP + RESTORE in a script: the keys and the DB and REPLACE arguments
      const bool replace = std::find(c.begin(), c.end(), "REPLACE") != c.end();
      const std::string db = c.size() > 4 && ascii_upper(c[3]) == "DB" ? c[4] : "";
      c = {"EVAL", "@copy-script", "2", c[1], c[2], db, replace ? "1" : ""};
    }
  }

  void translate(Command c, std::vector<std::pair<int, Command>>& emit) {
    const std::string name = ascii_upper(c[0]);
    if (name == "PING" || name == "REPLCONF") return;
    if (name == "SELECT") {
      cur_ = std::stoi(c[1]);
      return;
    }
    if (c.size() > 1 && c[1].rfind(o_.heartbeat_prefix, 0) == 0) return;  // ferry's own key: never applied
    if (!o_.filter.empty() && !filter(c)) return;
    const std::string now = ascii_upper(c[0]);
    if (now == "FLUSHALL") {
      if (dbs_.empty()) emit.push_back({-1, c});
      else
        for (int db : dbs_) emit.push_back({map(db), {"FLUSHDB"}});
      return;
    }
    if (now == "SWAPDB") {
      int a = std::stoi(c[1]), b = std::stoi(c[2]);
      if (!sel(a) && !sel(b)) return;
      if (sel(a) != sel(b)) {
        ++out_.unapplied;
        return;
      }
      emit.push_back({-1, {c[0], num(map(a)), num(map(b))}});
      return;
    }
    if (now == "MOVE") {
      int to = std::stoi(c[2]);
      if (!sel(cur_) && !sel(to)) return;
      if (sel(cur_) && !sel(to)) return emit.push_back({map(cur_), {"DEL", c[1]}});
      if (!sel(cur_)) {
        ++out_.unapplied;
        return;
      }
      c[2] = num(map(to));
      return emit.push_back({map(cur_), c});
    }
    if (now == "COPY") {
      int to = cur_;
      if (c.size() > 4) to = std::stoi(c[4]), c[4] = num(map(to));
      if (!sel(to)) return;
      if (!sel(cur_)) {
        ++out_.unapplied;
        return;
      }
      old_target(c);
      return emit.push_back({map(cur_), c});
    }
    if (!sel(cur_)) return;
    expiry(c);
    old_target(c);
    emit.push_back({map(cur_), c});
  }

  const StreamOptions& o_;
  const bool pxat_;  // the target has SET ... PXAT and LMOVE (6.2+)
  std::set<int> dbs_;
  int cur_ = 0;
  Expected out_;
};

}  // namespace

Expected expected_target(const std::vector<Command>& stream, const CaseOptions& options) {
  return Oracle(options).run(stream);
}

std::optional<long long> last_heartbeat(const std::vector<Command>& stream, size_t from, size_t to, const std::string& prefix) {
  std::optional<long long> last, in_tx;
  bool open = false;
  for (size_t i = from; i < to && i < stream.size(); ++i) {
    const Command& c = stream[i];
    const std::string name = ascii_upper(c[0]);
    if (name == "MULTI") open = true, in_tx.reset();
    else if (name == "EXEC") {
      if (open && in_tx) last = in_tx;
      open = false;
    } else if (name == "SET" && c.size() > 2 && c[1].rfind(prefix, 0) == 0) {
      (open ? in_tx : last) = std::stoll(c[2]);
    }
  }
  return last;
}

long long expected_applied_offset(const std::vector<Command>& stream, size_t fed) {
  std::optional<size_t> open;
  for (size_t i = 0; i < fed; ++i) {
    if (stream[i][0] == "MULTI") open = i;
    if (stream[i][0] == "EXEC") open.reset();
  }
  return 100 * static_cast<long long>(open ? *open : fed);
}

std::vector<TargetUnit> target_view(const std::vector<std::pair<int, Command>>& received) {
  std::vector<TargetUnit> units;
  std::optional<TargetUnit> tx;
  int connection = 0, db = 0;
  bool first = false;
  for (const auto& [conn, c] : received) {
    if (conn != connection) connection = conn, db = 0, first = true, tx.reset();
    const std::string name = ascii_upper(c[0]);
    bool handshake = first && name == "PING";
    first = false;
    if (handshake) continue;
    if (name == "SELECT") db = std::stoi(c[1]);
    else if (name == "MULTI") tx = TargetUnit{true, {}, 0};
    else if (name == "EXEC" && tx) units.push_back(std::move(*tx)), tx.reset();
    else {
      std::pair<int, Command> cmd{name == "FLUSHALL" || name == "SWAPDB" ? -1 : db, c};
      if (tx) tx->commands.push_back(std::move(cmd));
      else units.push_back(TargetUnit{false, {std::move(cmd)}, 0});
    }
  }
  return units;
}

std::string show(const Command& c) {
  std::string out;
  for (const auto& a : c) out += (out.empty() ? "" : " ") + a;
  return out;
}

std::string show(const std::vector<TargetUnit>& units) {
  std::string out;
  for (const auto& u : units) {
    if (u.transaction) out += "  MULTI\n";
    for (const auto& [db, c] : u.commands) out += fmt::format("  {}[db {}] {}\n", u.transaction ? "  " : "", db, show(c));
    if (u.transaction) out += "  EXEC\n";
  }
  return out.empty() ? "  (nothing)\n" : out;
}

bool same_units(const std::vector<TargetUnit>& expected, const std::vector<TargetUnit>& actual, long long now_lo,
                long long now_hi, std::string* why) {
  // The bounds of a time: a number, or "@now+<ms>".
  auto bounds = [&](const std::string& e) -> std::pair<long long, long long> {
    if (e.rfind("@now+", 0) == 0) {
      long long ms = std::stoll(e.substr(5));
      return {now_lo + ms, now_hi + ms};
    }
    return {std::atoll(e.c_str()), std::atoll(e.c_str())};
  };
  auto same_arg = [&](const std::string& e, const std::string& a) {
    if (e == "@copy-script") return a.find("redis.call('RESTORE', KEYS[2], ttl, v)") != std::string::npos;
    const long long got = std::atoll(a.c_str());
    if (e.rfind("@left:", 0) == 0) {  // the time left until then, at least 1
      auto [lo, hi] = bounds(e.substr(6));
      return got >= std::max(1LL, lo - now_hi) && got <= std::max(1LL, hi - now_lo);
    }
    if (e.rfind("@now+", 0) != 0) return e == a;
    auto [lo, hi] = bounds(e);
    return got >= lo && got <= hi;
  };
  const size_t n = std::min(expected.size(), actual.size());
  for (size_t u = 0; u < n; ++u) {
    const auto &e = expected[u], &a = actual[u];
    bool same = e.transaction == a.transaction && e.commands.size() == a.commands.size();
    for (size_t i = 0; same && i < e.commands.size(); ++i) {
      same = e.commands[i].first == a.commands[i].first && e.commands[i].second.size() == a.commands[i].second.size();
      for (size_t j = 0; same && j < e.commands[i].second.size(); ++j)
        same = same_arg(e.commands[i].second[j], a.commands[i].second[j]);
    }
    if (!same) {
      *why = fmt::format("unit {} differs: expected\n{}got\n{}", u + 1, show({e}), show({a}));
      return false;
    }
  }
  if (expected.size() != actual.size()) {
    *why = fmt::format("expected {} units, the target got {}; the first extra or missing:\n{}", expected.size(),
                       actual.size(), expected.size() > n ? show({expected[n]}) : show({actual[n]}));
    return false;
  }
  return true;
}

}  // namespace ferry::fuzz
