#include "verify/dataset_comparison.h"

#include "core/log.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <memory>
#include <set>

namespace ferry {
namespace {


std::string field_text(const Reply& map, std::string_view name) {
  const Reply* f = map.field(name);
  return f ? f->summary() : "-";
}

std::set<int> non_empty_dbs(Connection& conn) {
  std::set<int> dbs;
  for (const auto& [name, value] : conn.info("keyspace"))
    if (name.rfind("db", 0) == 0) dbs.insert(std::atoi(name.c_str() + 2));
  return dbs;
}

// Redis 7.2+ and Valkey print scores into DEBUG DIGEST-VALUE differently from 7.0 (shortest
// round-trip vs %.17g), so equal sorted sets can digest differently across versions: compare them
// member by member, scores as doubles, in ZSCAN windows.
bool zsets_equal(Connection& a, Connection& b, const std::string& key) {
  if (a.checked({"ZCARD", key}).integer != b.checked({"ZCARD", key}).integer) return false;
  std::string cursor = "0";
  do {
    Reply scan = a.checked({"ZSCAN", key, cursor, "COUNT", "500"});
    cursor = scan.elements[0].str;
    const auto& items = scan.elements[1].elements;
    std::vector<Reply> scores(items.size() / 2);
    {
      Pipeline pipe(b);
      for (size_t i = 0; i + 1 < items.size(); i += 2)
        pipe.send({"ZSCORE", key, items[i].str}, [&scores, i](Reply&& r) { scores[i / 2] = std::move(r); });
      pipe.drain();
    }
    for (size_t i = 0; i + 1 < items.size(); i += 2) {
      const Reply& other = scores[i / 2];
      if (!other.is_string() || std::strtod(other.str.c_str(), nullptr) != std::strtod(items[i + 1].str.c_str(), nullptr))
        return false;
    }
  } while (cursor != "0");
  return true;
}

}  // namespace

std::string stream_state(Connection& conn, const std::string& key, bool v7_fields, bool entries_read) {
  Reply info = conn.checked({"XINFO", "STREAM", key});
  std::string out = fmt::format("length={} last={}", field_text(info, "length"), field_text(info, "last-generated-id"));
  if (v7_fields)
    out += fmt::format(" added={} maxdel={}", field_text(info, "entries-added"), field_text(info, "max-deleted-entry-id"));
  Reply groups = conn.checked({"XINFO", "GROUPS", key});
  std::vector<std::string> parts;
  for (const auto& g : groups.elements) {
    std::string name = field_text(g, "name");
    std::string part = fmt::format(" group {} delivered={} pending={}", name, field_text(g, "last-delivered-id"),
                                   field_text(g, "pending"));
    if (v7_fields && entries_read) part += " read=" + field_text(g, "entries-read");
    std::vector<std::string> consumers;
    for (const auto& c : conn.checked({"XINFO", "CONSUMERS", key, name}).elements)
      consumers.push_back(fmt::format("{}:{}", field_text(c, "name"), field_text(c, "pending")));
    std::sort(consumers.begin(), consumers.end());
    for (const auto& c : consumers) part += " consumer " + c;
    for (const auto& p : conn.checked({"XPENDING", key, name, "-", "+", "100000"}).elements)
      part += fmt::format(" pel {}@{}x{}", p.elements[0].str, p.elements[1].str, p.elements[3].integer);
    parts.push_back(part);
  }
  std::sort(parts.begin(), parts.end());
  for (const auto& p : parts) out += p;
  return out;
}

std::string ComparisonResult::summary() const {
  std::string out = fmt::format(
      "{}: {} keys checked; missing on target {}, value differs {}, expiry differs {}, stream state differs {}, "
      "DBs with a different key count {}; DEBUG DIGEST source {} target {}",
      equal() ? "identical" : "DIFFERENT", keys_checked, missing_on_target, value_mismatches, expiry_mismatches,
      stream_state_mismatches, dbsize_mismatches, source_digest, target_digest);
  for (const auto& e : examples) out += "\n  " + e;
  return out;
}

namespace {

// One side of a comparison: one server, or every master of a cluster (each key on its slot's owner).
struct Side {
  std::vector<Connection*> nodes;
  const ServerGroup* group = nullptr;
  size_t owner(std::string_view key) const { return group ? group->node_of(key) : 0; }
  bool relative_expiry() const { return nodes.front()->version() < 70000; }
};

Side side_of(Connection& conn) { return Side{{&conn}, nullptr}; }
Side side_of(ServerGroup& group) {
  Side s;
  for (size_t i = 0; i < group.size(); ++i) s.nodes.push_back(&group.node(i));
  if (group.cluster()) s.group = &group;
  return s;
}

std::set<int> non_empty_dbs(const Side& side) {
  std::set<int> dbs;
  for (Connection* c : side.nodes) {
    auto more = non_empty_dbs(*c);
    dbs.insert(more.begin(), more.end());
  }
  return dbs;
}

ComparisonResult compare(const Side& source, const Side& target, const ComparisonOptions& options) {
  ComparisonResult result;
  // The whole-server digest exists for one server; a cluster's is a set of them ("-").
  result.source_digest = source.group ? "-" : source.nodes[0]->checked({"DEBUG", "DIGEST"}).str;
  result.target_digest = target.group ? "-" : target.nodes[0]->checked({"DEBUG", "DIGEST"}).str;

  std::vector<int> dbs = options.dbs;
  if (dbs.empty()) {
    auto a = non_empty_dbs(source), b = non_empty_dbs(target);
    a.insert(b.begin(), b.end());
    dbs.assign(a.begin(), a.end());
  }
  auto example = [&](std::string text) {
    if (result.examples.size() < options.max_examples) result.examples.push_back(std::move(text));
  };

  std::vector<std::unique_ptr<Pipeline>> src_pipes, dst_pipes;
  for (Connection* c : source.nodes) src_pipes.push_back(std::make_unique<Pipeline>(*c));
  for (Connection* c : target.nodes) dst_pipes.push_back(std::make_unique<Pipeline>(*c));
  const bool src_relative = source.relative_expiry(), dst_relative = target.relative_expiry();
  const char* src_expiry = src_relative ? "PTTL" : "PEXPIRETIME";
  const char* dst_expiry = dst_relative ? "PTTL" : "PEXPIRETIME";
  auto absolute = [](const Reply& r, bool relative, long long now) {
    long long v = r.integer;
    return (relative && v >= 0) ? now + v : v;
  };
  auto dbsize = [](const Side& side) {
    long long n = 0;
    for (Connection* c : side.nodes) n += c->checked({"DBSIZE"}).integer;
    return n;
  };
  for (int db : dbs) {
    for (Connection* c : source.nodes) c->select(db);
    for (Connection* c : target.nodes) c->select(db);
    long long src_size = dbsize(source), dst_size = dbsize(target);
    long long heartbeats = 0;  // ferry's own keys on the source are not data
    for (size_t sn = 0; sn < source.nodes.size(); ++sn) {
      Connection& src = *source.nodes[sn];
      std::string cursor = "0";
      do {
        Reply scan = src.checked({"SCAN", cursor, "COUNT", "500"});
        cursor = scan.elements[0].str;
        const auto& keys = scan.elements[1].elements;
        size_t n = keys.size();
        std::vector<Reply> sd(n), td(n), se(n), te(n), st(n);
        std::vector<size_t> tn(n);
        for (size_t i = 0; i < n; ++i) {
          const std::string& k = keys[i].str;
          tn[i] = target.owner(k);
          Pipeline& sp = *src_pipes[sn];
          Pipeline& dp = *dst_pipes[tn[i]];
          sp.send({"DEBUG", "DIGEST-VALUE", k}, [&sd, i](Reply&& r) { sd[i] = std::move(r); });
          sp.send({src_expiry, k}, [&se, i](Reply&& r) { se[i] = std::move(r); });
          sp.send({"TYPE", k}, [&st, i](Reply&& r) { st[i] = std::move(r); });
          dp.send({"DEBUG", "DIGEST-VALUE", k}, [&td, i](Reply&& r) { td[i] = std::move(r); });
          dp.send({dst_expiry, k}, [&te, i](Reply&& r) { te[i] = std::move(r); });
        }
        src_pipes[sn]->drain();
        for (auto& p : dst_pipes) p->drain();
        long long now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
        for (size_t i = 0; i < n; ++i) {
          if (keys[i].str.rfind("ferry:heartbeat:", 0) == 0) {
            ++heartbeats;
            continue;
          }
          Connection& dst = *target.nodes[tn[i]];
          const std::string name = log::printable(keys[i].str, 60);
          ++result.keys_checked;
          if (te[i].integer == -2) {
            ++result.missing_on_target;
            example(fmt::format("DB {} key '{}': missing on target", db, name));
            continue;
          }
          std::string sdig = sd[i].is_array() && !sd[i].elements.empty() ? sd[i].elements[0].str : sd[i].str;
          std::string tdig = td[i].is_array() && !td[i].elements.empty() ? td[i].elements[0].str : td[i].str;
          if (sdig != tdig && !(st[i].str == "zset" && zsets_equal(src, dst, keys[i].str))) {
            ++result.value_mismatches;
            example(fmt::format("DB {} {} '{}': value differs", db, st[i].str, name));
          }
          long long s = absolute(se[i], src_relative, now), t = absolute(te[i], dst_relative, now);
          bool expiry_ok = (s < 0 || t < 0) ? s == t
                                            : std::llabs(t - s - options.expected_ttl_shift_ms) <= options.ttl_tolerance_ms;
          if (!expiry_ok) {
            ++result.expiry_mismatches;
            example(fmt::format("DB {} key '{}': expiry source {} target {}", db, name, s, t));
          }
          if (st[i].str == "stream") {
            std::string a = stream_state(src, keys[i].str, options.stream_v7_fields, options.group_entries_read),
                        b = stream_state(dst, keys[i].str, options.stream_v7_fields, options.group_entries_read);
            if (a != b) {
              ++result.stream_state_mismatches;
              example(fmt::format("DB {} stream '{}': source [{}] target [{}]", db, name, a, b));
            }
          }
        }
      } while (cursor != "0");
    }
    if (src_size - heartbeats != dst_size) {
      ++result.dbsize_mismatches;
      example(fmt::format("DB {}: source has {} keys, target {}", db, src_size - heartbeats, dst_size));
    }
  }
  return result;
}

}  // namespace

ComparisonResult compare_datasets(Connection& source, Connection& target, const ComparisonOptions& options) {
  return compare(side_of(source), side_of(target), options);
}

ComparisonResult compare_datasets(ServerGroup& source, ServerGroup& target, const ComparisonOptions& options) {
  return compare(side_of(source), side_of(target), options);
}

}  // namespace ferry
