#include "verify/key_compare.h"

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <map>

namespace ferry {
namespace {

std::string show(const std::string& value) { return "'" + log::printable(value, 40) + "'"; }

const Reply& ok(const Reply& r, Connection& conn, const std::string& what) {
  if (r.is_error())
    throw FerryError(ExitCode::Failed, fmt::format("{} on {} failed: {}", what, conn.describe(), r.str));
  return r;
}

// The id after `id` ("ms-seq"): the exclusive start of the next XRANGE/XPENDING window on any version.
std::string next_id(const std::string& id) {
  auto dash = id.find('-');
  unsigned long long ms = std::strtoull(id.c_str(), nullptr, 10);
  unsigned long long seq = dash == std::string::npos ? 0 : std::strtoull(id.c_str() + dash + 1, nullptr, 10);
  if (seq == ~0ULL) return fmt::format("{}-0", ms + 1);
  return fmt::format("{}-{}", ms, seq + 1);
}

// A map reply (RESP2 flat array of name, value) looked up by name.
std::string field(const Reply& map, const std::string& name) {
  const Reply* v = map.field(name);
  if (!v) return "";
  return v->is_integer() ? std::to_string(v->integer) : v->is_nil() ? "nil" : v->str;
}

bool same_score(const std::string& a, const std::string& b) {
  return a == b || std::strtod(a.c_str(), nullptr) == std::strtod(b.c_str(), nullptr);
}

}  // namespace

const char* difference_name(Difference d) {
  switch (d) {
    case Difference::None: return "none";
    case Difference::MissingOnTarget: return "missing-on-target";
    case Difference::ExtraOnTarget: return "extra-on-target";
    case Difference::Type: return "type";
    case Difference::Length: return "length";
    case Difference::Value: return "value";
    case Difference::Expiry: return "expiry";
  }
  return "?";
}

KeyComparator::KeyComparator(Connection& source, Connection& target, KeyCompareOptions options)
    : source_(source),
      target_(target),
      options_(options),
      source_has_pexpiretime_(source.version() >= 70000),
      target_has_pexpiretime_(target.version() >= 70000),
      target_has_multi_lookup_(target.version() >= 60200),
      stream_v7_(source.version() >= 70000 && target.version() >= 70000) {}

// Both sides at once: each phase is sent to the two servers before either is read.
std::pair<std::vector<KeyState>, std::vector<KeyState>> KeyComparator::probe(const std::vector<std::string>& keys) {
  std::vector<KeyState> s(keys.size()), t(keys.size());
  const long long now = unix_ms();
  Pipeline sp(source_, options_.pipeline), tp(target_, options_.pipeline);
  auto phase1 = [&](Pipeline& pipe, std::vector<KeyState>& states, bool absolute) {
    Connection& conn = pipe.connection();
    for (size_t i = 0; i < keys.size(); ++i) {
      pipe.send({"TYPE", keys[i]}, [&states, &conn, i](Reply&& r) { states[i].type = ok(r, conn, "TYPE").str; });
      pipe.send({absolute ? "PEXPIRETIME" : "PTTL", keys[i]}, [&states, &conn, i, absolute, now](Reply&& r) {
        long long v = ok(r, conn, "PEXPIRETIME/PTTL").integer;
        states[i].expire_ms = v < 0 ? -1 : absolute ? v : now + v;
      });
    }
  };
  phase1(sp, s, source_has_pexpiretime_);
  phase1(tp, t, target_has_pexpiretime_);
  sp.drain();
  tp.drain();
  auto phase2 = [&](Pipeline& pipe, std::vector<KeyState>& states) {
    for (size_t i = 0; i < keys.size(); ++i) {
      const std::string& type = states[i].type;
      const char* cmd = type == "string" ? "STRLEN" : type == "list" ? "LLEN" : type == "hash" ? "HLEN"
                        : type == "set" ? "SCARD" : type == "zset" ? "ZCARD" : type == "stream" ? "XLEN" : nullptr;
      if (cmd)
        pipe.send({cmd, keys[i]}, [&states, i](Reply&& r) {
          if (r.is_error()) return;  // the key changed type in between: the next round sees it again
          states[i].length = r.integer;
        });
    }
  };
  phase2(sp, s);
  phase2(tp, t);
  sp.drain();
  tp.drain();
  // A key that vanished between TYPE and its length (expired, evicted, deleted) reads as length 0,
  // which no collection has: it is gone. An empty string is confirmed with EXISTS.
  auto phase3 = [&](Pipeline& pipe, std::vector<KeyState>& states) {
    for (size_t i = 0; i < keys.size(); ++i) {
      if (states[i].length != 0 || !states[i].exists()) continue;
      if (states[i].type == "string")
        pipe.send({"EXISTS", keys[i]}, [&states, i](Reply&& r) {
          if (r.is_integer() && r.integer == 0) states[i] = KeyState{};
        });
      else if (states[i].type == "list" || states[i].type == "hash" || states[i].type == "set" || states[i].type == "zset")
        states[i] = KeyState{};
    }
  };
  phase3(sp, s);
  phase3(tp, t);
  sp.drain();
  tp.drain();
  return {std::move(s), std::move(t)};
}

std::vector<KeyVerdict> KeyComparator::compare(int db, const std::vector<std::string>& keys) {
  auto [s, t] = probe(keys);
  std::vector<KeyVerdict> out(keys.size());
  std::vector<size_t> small, big;
  for (size_t i = 0; i < keys.size(); ++i) {
    KeyVerdict& v = out[i];
    v.db = db;
    v.key = keys[i];
    v.source = s[i];
    v.target = t[i];
    if (!s[i].exists() && !t[i].exists()) continue;  // gone from both since the scan
    if (!t[i].exists()) {
      v.difference = Difference::MissingOnTarget;
      v.detail = fmt::format("{} on the source, missing on the target", s[i].type);
    } else if (!s[i].exists()) {
      v.difference = Difference::ExtraOnTarget;
      v.detail = fmt::format("{} on the target, missing on the source", t[i].type);
    } else if (s[i].type != t[i].type) {
      v.difference = Difference::Type;
      v.detail = fmt::format("source {}, target {}", s[i].type, t[i].type);
    } else if (options_.level != CompareLevel::Outline && s[i].length != t[i].length) {
      v.difference = Difference::Length;
      v.detail = fmt::format("{}: source length {}, target {}", s[i].type, s[i].length, t[i].length);
    } else if (options_.level == CompareLevel::Full) {
      bool is_big = s[i].type == "string" ? s[i].length > static_cast<long long>(options_.big_string_bytes)
                                          : s[i].length > static_cast<long long>(options_.window);
      (is_big ? big : small).push_back(i);
    }
  }
  if (options_.level != CompareLevel::Full) return out;

  // Small values: DUMP on both sides; equal payloads are equal values.
  std::vector<Reply> sd(keys.size()), td(keys.size());
  {
    Pipeline sp(source_, options_.pipeline), tp(target_, options_.pipeline);
    for (size_t i : small) {
      sp.send({"DUMP", keys[i]}, [&sd, i](Reply&& r) { sd[i] = std::move(r); });
      tp.send({"DUMP", keys[i]}, [&td, i](Reply&& r) { td[i] = std::move(r); });
    }
    sp.drain();
    tp.drain();
  }
  // Payloads that differ (another encoding or RDB version, a set's hashtable order): the logical
  // content, read with one pipelined command per key and side.
  std::vector<size_t> reread;
  for (size_t i : small) {
    if (sd[i].is_nil() != td[i].is_nil()) {  // gone from one side since the probe
      KeyVerdict& v = out[i];
      (sd[i].is_nil() ? v.source : v.target) = KeyState{};
      v.difference = sd[i].is_nil() ? Difference::ExtraOnTarget : Difference::MissingOnTarget;
      v.detail = fmt::format("{} on the {} only (the other side's copy went away during the comparison)", s[i].type,
                             sd[i].is_nil() ? "target" : "source");
      continue;
    }
    if (sd[i].is_nil() || sd[i].str == td[i].str) continue;
    if (!read_command(s[i].type, keys[i]).empty()) {
      reread.push_back(i);
      continue;
    }
    std::string why = compare_small(keys[i], s[i], sd[i], td[i]);  // streams, module types
    if (!why.empty()) {
      out[i].difference = Difference::Value;
      out[i].detail = std::move(why);
    }
  }
  sd.clear();
  td.clear();
  if (!reread.empty()) {
    std::vector<Reply> a(keys.size()), b(keys.size());
    {
      Pipeline sp(source_, options_.pipeline), tp(target_, options_.pipeline);
      for (size_t i : reread) {
        Args cmd = read_command(s[i].type, keys[i]);
        sp.send(cmd, [&a, i](Reply&& r) { a[i] = std::move(r); });
        tp.send(cmd, [&b, i](Reply&& r) { b[i] = std::move(r); });
      }
      sp.drain();
      tp.drain();
    }
    for (size_t i : reread) {
      ok(a[i], source_, "read");
      ok(b[i], target_, "read");
      std::string why = compare_read(s[i].type, a[i], b[i]);
      if (!why.empty()) {
        out[i].difference = Difference::Value;
        out[i].detail = std::move(why);
      }
    }
  }
  for (size_t i : big) {
    std::string why = compare_big(keys[i], s[i]);
    if (!why.empty()) {
      out[i].difference = Difference::Value;
      out[i].detail = std::move(why);
    }
  }
  // Expiry, for keys whose value is equal.
  for (auto& v : out) {
    if (v.difference != Difference::None || !v.source.exists() || !v.target.exists()) continue;
    if (v.source.type != v.target.type) continue;
    long long se = v.source.expire_ms, te = v.target.expire_ms;
    bool differs = (se < 0) != (te < 0) || (se >= 0 && std::llabs(te - se) > options_.ttl_tolerance_ms);
    if (!differs) continue;
    v.difference = Difference::Expiry;
    auto when = [](long long at) { return at < 0 ? std::string("no expiry") : fmt::format("expires at {}", at); };
    v.detail = fmt::format("source {}, target {}{}", when(se), when(te),
                           se >= 0 && te >= 0 ? fmt::format(" ({:+} ms)", te - se) : "");
  }
  return out;
}

Args KeyComparator::read_command(const std::string& type, const std::string& key) {
  if (type == "string") return {"GET", key};
  if (type == "list") return {"LRANGE", key, "0", "-1"};
  if (type == "hash") return {"HGETALL", key};
  if (type == "set") return {"SMEMBERS", key};
  if (type == "zset") return {"ZRANGE", key, "0", "-1", "WITHSCORES"};
  return {};
}

std::string KeyComparator::compare_read(const std::string& type, const Reply& a, const Reply& b) {
  if (type == "string") {
    if (a.str == b.str) return "";
    size_t at = std::mismatch(a.str.begin(), a.str.end(), b.str.begin(), b.str.end()).first - a.str.begin();
    return fmt::format("string values differ at byte {}: source {}, target {}", at, show(a.str.substr(at)), show(b.str.substr(at)));
  }
  if (type == "list") {
    for (size_t i = 0; i < a.elements.size() && i < b.elements.size(); ++i)
      if (a.elements[i].str != b.elements[i].str)
        return fmt::format("list element {} differs: source {}, target {}", i, show(a.elements[i].str), show(b.elements[i].str));
    return a.elements.size() == b.elements.size() ? "" : "list lengths differ";
  }
  // hash, set, zset: as maps, so order does not matter
  size_t step = type == "set" ? 1 : 2;
  std::map<std::string, std::string> x, y;
  for (size_t i = 0; i + step - 1 < a.elements.size(); i += step) x[a.elements[i].str] = step == 2 ? a.elements[i + 1].str : "";
  for (size_t i = 0; i + step - 1 < b.elements.size(); i += step) y[b.elements[i].str] = step == 2 ? b.elements[i + 1].str : "";
  const char* what = type == "hash" ? "field" : "member";
  for (const auto& [k, v] : x) {
    auto it = y.find(k);
    if (it == y.end()) return fmt::format("{} {} {} is missing on the target", type, what, show(k));
    bool same = type == "zset" ? same_score(v, it->second) : v == it->second;
    if (!same) return fmt::format("{} {} {}: source {}, target {}", type, what, show(k), show(v), show(it->second));
  }
  for (const auto& [k, v] : y)
    if (!x.count(k)) return fmt::format("{} {} {} is only on the target", type, what, show(k));
  return "";
}

std::string KeyComparator::compare_small(const std::string& key, const KeyState& state, const Reply& sd, const Reply& td) {
  if (sd.is_string() && td.is_string() && sd.str == td.str) return "";
  if (sd.is_nil() || td.is_nil()) return "";  // deleted in between: the next round sees it
  const std::string& type = state.type;
  Args cmd = read_command(type, key);
  if (!cmd.empty()) {
    Reply a = source_.command(cmd), b = target_.command(cmd);
    return compare_read(type, ok(a, source_, cmd[0]), ok(b, target_, cmd[0]));
  }
  if (type == "stream") return compare_stream(key);
  // A module type: the payload without its RDB version and checksum.
  if (sd.str.size() >= 10 && td.str.size() >= 10 &&
      sd.str.compare(0, sd.str.size() - 10, td.str, 0, td.str.size() - 10) == 0)
    return "";
  return fmt::format("{} values differ (DUMP payloads of {} and {} bytes)", type, sd.str.size(), td.str.size());
}

std::string KeyComparator::compare_big(const std::string& key, const KeyState& state) {
  const std::string& type = state.type;
  const long long w = static_cast<long long>(options_.window);
  if (type == "string") {
    const long long chunk = static_cast<long long>(options_.big_string_bytes);
    for (long long at = 0; at < state.length; at += chunk) {
      Args cmd{"GETRANGE", key, std::to_string(at), std::to_string(at + chunk - 1)};
      Reply a = source_.command(cmd), b = target_.command(cmd);
      if (a.str != b.str) {
        size_t off = std::mismatch(a.str.begin(), a.str.end(), b.str.begin(), b.str.end()).first - a.str.begin();
        return fmt::format("string values differ at byte {}", at + static_cast<long long>(off));
      }
    }
    return "";
  }
  if (type == "list") {
    for (long long at = 0; at < state.length; at += w) {
      Args cmd{"LRANGE", key, std::to_string(at), std::to_string(at + w - 1)};
      Reply a = ok(source_.command(cmd), source_, "LRANGE"), b = ok(target_.command(cmd), target_, "LRANGE");
      for (size_t i = 0; i < a.elements.size(); ++i)
        if (i >= b.elements.size() || a.elements[i].str != b.elements[i].str)
          return fmt::format("list element {} differs: source {}, target {}", at + static_cast<long long>(i),
                             show(a.elements[i].str), i < b.elements.size() ? show(b.elements[i].str) : "(none)");
    }
    return "";
  }
  if (type == "hash" || type == "set" || type == "zset") {
    const char* scan = type == "hash" ? "HSCAN" : type == "set" ? "SSCAN" : "ZSCAN";
    std::string cursor = "0";
    do {
      Reply r = ok(source_.command({scan, key, cursor, "COUNT", std::to_string(w)}), source_, scan);
      cursor = r.elements[0].str;
      const auto& items = r.elements[1].elements;
      size_t step = type == "set" ? 1 : 2;
      std::vector<std::string> names;
      for (size_t i = 0; i < items.size(); i += step) names.push_back(items[i].str);
      if (names.empty()) continue;
      std::vector<Reply> answers;
      if (type == "hash" || target_has_multi_lookup_) {
        Args cmd{type == "hash" ? "HMGET" : type == "set" ? "SMISMEMBER" : "ZMSCORE", key};
        cmd.insert(cmd.end(), names.begin(), names.end());
        answers = ok(target_.command(cmd), target_, cmd[0]).elements;
      } else {
        Pipeline pipe(target_, options_.pipeline);
        answers.resize(names.size());
        for (size_t i = 0; i < names.size(); ++i)
          pipe.send({type == "set" ? "SISMEMBER" : "ZSCORE", key, names[i]}, [&answers, i](Reply&& a) { answers[i] = std::move(a); });
        pipe.drain();
      }
      for (size_t i = 0; i < names.size() && i < answers.size(); ++i) {
        const Reply& a = answers[i];
        if (type == "set") {
          if (a.integer != 1) return fmt::format("set member {} is missing on the target", show(names[i]));
          continue;
        }
        const std::string& expected = items[i * 2 + 1].str;
        const char* what = type == "hash" ? "field" : "member";
        if (a.is_nil()) return fmt::format("{} {} {} is missing on the target", type, what, show(names[i]));
        bool same = type == "zset" ? same_score(expected, a.str) : expected == a.str;
        if (!same) return fmt::format("{} {} {}: source {}, target {}", type, what, show(names[i]), show(expected), show(a.str));
      }
    } while (cursor != "0");
    return "";  // every source element is on the target, and the lengths are equal
  }
  if (type == "stream") return compare_stream(key);
  Reply a = source_.command({"DUMP", key}), b = target_.command({"DUMP", key});
  return compare_small(key, state, a, b);
}

std::string KeyComparator::compare_stream(const std::string& key) {
  const std::string w = std::to_string(options_.window);
  // Entries, window by window.
  std::string start = "-";
  for (;;) {
    Args cmd{"XRANGE", key, start, "+", "COUNT", w};
    Reply a = ok(source_.command(cmd), source_, "XRANGE"), b = ok(target_.command(cmd), target_, "XRANGE");
    for (size_t i = 0; i < a.elements.size(); ++i) {
      const Reply& x = a.elements[i];
      if (i >= b.elements.size()) return fmt::format("stream entry {} is missing on the target", x.elements[0].str);
      const Reply& y = b.elements[i];
      if (x.elements[0].str != y.elements[0].str)
        return fmt::format("stream entry {} on the source, {} on the target", x.elements[0].str, y.elements[0].str);
      const auto& fx = x.elements[1].elements;
      const auto& fy = y.elements[1].elements;
      bool same = fx.size() == fy.size();
      for (size_t f = 0; same && f < fx.size(); ++f) same = fx[f].str == fy[f].str;
      if (!same) return fmt::format("stream entry {} has other fields on the target", x.elements[0].str);
    }
    if (a.elements.size() != b.elements.size()) return "stream entries differ in number";
    if (a.elements.size() < options_.window) break;
    start = next_id(a.elements.back().elements[0].str);
  }
  // Stream metadata and groups.
  Reply sa = ok(source_.command({"XINFO", "STREAM", key}), source_, "XINFO STREAM");
  Reply sb = ok(target_.command({"XINFO", "STREAM", key}), target_, "XINFO STREAM");
  std::vector<std::string> meta{"last-generated-id"};
  if (stream_v7_) meta.insert(meta.end(), {"entries-added", "max-deleted-entry-id"});
  for (const auto& m : meta)
    if (field(sa, m) != field(sb, m)) return fmt::format("stream {}: source {}, target {}", m, field(sa, m), field(sb, m));
  Reply ga = ok(source_.command({"XINFO", "GROUPS", key}), source_, "XINFO GROUPS");
  Reply gb = ok(target_.command({"XINFO", "GROUPS", key}), target_, "XINFO GROUPS");
  std::map<std::string, const Reply*> target_groups;
  for (const auto& g : gb.elements) target_groups[field(g, "name")] = &g;
  if (ga.elements.size() != gb.elements.size())
    return fmt::format("stream has {} consumer groups on the source, {} on the target", ga.elements.size(), gb.elements.size());
  for (const auto& g : ga.elements) {
    std::string name = field(g, "name");
    auto it = target_groups.find(name);
    if (it == target_groups.end()) return fmt::format("consumer group '{}' is missing on the target", name);
    for (const char* f : {"last-delivered-id", "pending", "consumers"})
      if (field(g, f) != field(*it->second, f))
        return fmt::format("group '{}' {}: source {}, target {}", name, f, field(g, f), field(*it->second, f));
    // entries-read (and the lag computed from it) is not reproducible through replication.
    for (const char* f : {"entries-read", "lag"})
      if (stream_v7_ && field(g, f) != field(*it->second, f)) {
        ++not_reproducible;
        if (not_reproducible_samples.size() < 20)
          not_reproducible_samples.push_back(fmt::format("'{}' group '{}' {}: source {}, target {}", log::printable(key, 60),
                                                         name, f, field(g, f), field(*it->second, f)));
        break;
      }
    // Consumers (name and pending count; seen-time is not reproducible and not compared).
    auto consumers = [&](Connection& conn) {
      std::vector<std::string> out;
      Reply list = conn.command({"XINFO", "CONSUMERS", key, name});
      for (const auto& c : ok(list, conn, "XINFO CONSUMERS").elements) out.push_back(field(c, "name") + ":" + field(c, "pending"));
      std::sort(out.begin(), out.end());
      return out;
    };
    if (consumers(source_) != consumers(target_)) return fmt::format("group '{}' consumers differ", name);
    // The PEL, window by window: id, consumer, delivery count (idle time is not reproducible).
    std::string from = "-";
    for (;;) {
      Args cmd{"XPENDING", key, name, from, "+", w};
      Reply pa = ok(source_.command(cmd), source_, "XPENDING"), pb = ok(target_.command(cmd), target_, "XPENDING");
      if (pa.elements.size() != pb.elements.size()) return fmt::format("group '{}' pending entries differ in number", name);
      for (size_t i = 0; i < pa.elements.size(); ++i) {
        const auto& x = pa.elements[i].elements;
        const auto& y = pb.elements[i].elements;
        if (x[0].str != y[0].str || x[1].str != y[1].str || x[3].integer != y[3].integer)
          return fmt::format("group '{}' pending entry {}: source {} x{}, target {} {} x{}", name, x[0].str, x[1].str,
                             x[3].integer, y[0].str, y[1].str, y[3].integer);
      }
      if (pa.elements.size() < options_.window) break;
      from = next_id(pa.elements.back().elements[0].str);
    }
  }
  return "";
}

}  // namespace ferry
