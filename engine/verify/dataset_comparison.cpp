#include "verify/dataset_comparison.h"

#include "core/log.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace ferry {
namespace {

const Reply* field(const Reply& map, std::string_view name) {
  for (size_t i = 0; i + 1 < map.elements.size(); i += 2)
    if (map.elements[i].str == name) return &map.elements[i + 1];
  return nullptr;
}

std::string field_text(const Reply& map, std::string_view name) {
  const Reply* f = field(map, name);
  return f ? f->summary() : "-";
}

std::set<int> non_empty_dbs(Connection& conn) {
  std::set<int> dbs;
  for (const auto& [name, value] : conn.info("keyspace"))
    if (name.rfind("db", 0) == 0) dbs.insert(std::atoi(name.c_str() + 2));
  return dbs;
}

}  // namespace

std::string stream_state(Connection& conn, const std::string& key) {
  Reply info = conn.checked({"XINFO", "STREAM", key});
  std::string out = fmt::format("length={} last={} added={} maxdel={}", field_text(info, "length"),
                                field_text(info, "last-generated-id"), field_text(info, "entries-added"),
                                field_text(info, "max-deleted-entry-id"));
  Reply groups = conn.checked({"XINFO", "GROUPS", key});
  std::vector<std::string> parts;
  for (const auto& g : groups.elements) {
    std::string name = field_text(g, "name");
    std::string part = fmt::format(" group {} delivered={} read={} pending={}", name, field_text(g, "last-delivered-id"),
                                   field_text(g, "entries-read"), field_text(g, "pending"));
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

ComparisonResult compare_datasets(Connection& source, Connection& target, const ComparisonOptions& options) {
  ComparisonResult result;
  result.source_digest = source.checked({"DEBUG", "DIGEST"}).str;
  result.target_digest = target.checked({"DEBUG", "DIGEST"}).str;

  std::vector<int> dbs = options.dbs;
  if (dbs.empty()) {
    auto a = non_empty_dbs(source), b = non_empty_dbs(target);
    a.insert(b.begin(), b.end());
    dbs.assign(a.begin(), a.end());
  }
  auto example = [&](std::string text) {
    if (result.examples.size() < options.max_examples) result.examples.push_back(std::move(text));
  };

  Pipeline src_pipe(source), dst_pipe(target);
  for (int db : dbs) {
    source.select(db);
    target.select(db);
    long long src_size = source.checked({"DBSIZE"}).integer, dst_size = target.checked({"DBSIZE"}).integer;
    if (src_size != dst_size) {
      ++result.dbsize_mismatches;
      example(fmt::format("DB {}: source has {} keys, target {}", db, src_size, dst_size));
    }
    std::string cursor = "0";
    do {
      Reply scan = source.checked({"SCAN", cursor, "COUNT", "500"});
      cursor = scan.elements[0].str;
      const auto& keys = scan.elements[1].elements;
      size_t n = keys.size();
      std::vector<Reply> sd(n), td(n), se(n), te(n), st(n);
      for (size_t i = 0; i < n; ++i) {
        const std::string& k = keys[i].str;
        src_pipe.send({"DEBUG", "DIGEST-VALUE", k}, [&sd, i](Reply&& r) { sd[i] = std::move(r); });
        src_pipe.send({"PEXPIRETIME", k}, [&se, i](Reply&& r) { se[i] = std::move(r); });
        src_pipe.send({"TYPE", k}, [&st, i](Reply&& r) { st[i] = std::move(r); });
        dst_pipe.send({"DEBUG", "DIGEST-VALUE", k}, [&td, i](Reply&& r) { td[i] = std::move(r); });
        dst_pipe.send({"PEXPIRETIME", k}, [&te, i](Reply&& r) { te[i] = std::move(r); });
      }
      src_pipe.drain();
      dst_pipe.drain();
      for (size_t i = 0; i < n; ++i) {
        const std::string name = log::printable(keys[i].str, 60);
        ++result.keys_checked;
        if (te[i].integer == -2) {
          ++result.missing_on_target;
          example(fmt::format("DB {} key '{}': missing on target", db, name));
          continue;
        }
        std::string sdig = sd[i].is_array() && !sd[i].elements.empty() ? sd[i].elements[0].str : sd[i].str;
        std::string tdig = td[i].is_array() && !td[i].elements.empty() ? td[i].elements[0].str : td[i].str;
        if (sdig != tdig) {
          ++result.value_mismatches;
          example(fmt::format("DB {} key '{}': value differs", db, name));
        }
        long long s = se[i].integer, t = te[i].integer;
        bool expiry_ok = (s < 0 || t < 0) ? s == t
                                          : std::llabs(t - s - options.expected_ttl_shift_ms) <= options.ttl_tolerance_ms;
        if (!expiry_ok) {
          ++result.expiry_mismatches;
          example(fmt::format("DB {} key '{}': expiry source {} target {}", db, name, s, t));
        }
        if (st[i].str == "stream") {
          std::string a = stream_state(source, keys[i].str), b = stream_state(target, keys[i].str);
          if (a != b) {
            ++result.stream_state_mismatches;
            example(fmt::format("DB {} stream '{}': source [{}] target [{}]", db, name, a, b));
          }
        }
      }
    } while (cursor != "0");
  }
  return result;
}

}  // namespace ferry
