#include "rdb/rdb_inspector.h"

#include "core/log.h"
#include "rdb/format.h"

#include <fmt/format.h>

#include <algorithm>

namespace ferry::rdb {

void RdbInspector::on_aux(const std::string& name, const std::string& value) {
  if (name == "lua") {
    ++lua_scripts_;
    return;
  }
  aux_.emplace_back(name, log::printable(value, 200));
}

void RdbInspector::on_function(const std::string& code) {
  // The first line names the library: "#!lua name=mylib".
  std::string first = code.substr(0, code.find('\n'));
  auto pos = first.find("name=");
  functions_.push_back(pos == std::string::npos ? first : first.substr(pos + 5, first.find(' ', pos) - pos - 5));
}

size_t RdbInspector::on_key_begin(const KeyInfo&) {
  elements_ = 0;
  string_bytes_ = 0;
  return 0;
}

void RdbInspector::keep_top(std::vector<BigKey>& list, BigKey key, bool by_bytes) {
  auto less = [by_bytes](const BigKey& a, const BigKey& b) {
    return by_bytes ? a.bytes > b.bytes : a.elements > b.elements;
  };
  if (list.size() == top_ && !less(key, list.back())) return;
  list.insert(std::upper_bound(list.begin(), list.end(), key, less), std::move(key));
  if (list.size() > top_) list.pop_back();
}

void RdbInspector::on_key_end(const KeyInfo& key, const std::string*) {
  ++keys_;
  if (key.empty) ++empty_keys_;
  const char* type = key.rdb_type == kTypeModule2 ? "module" : key_type_name(key.type);
  keys_by_db_type_[key.db][type]++;
  encodings_[type_description(key.rdb_type)]++;
  if (key.expire_ms) expiring_by_db_[key.db]++;
  if (top_ == 0) return;
  BigKey big{key.db, log::printable(key.key, 80), type, elements_, key.end_offset - key.offset};
  keep_top(by_elements_, big, false);
  keep_top(by_bytes_, std::move(big), true);
}

nlohmann::json RdbInspector::to_json() const {
  nlohmann::json j;
  j["rdb_version"] = version_;
  j["complete"] = complete_;
  j["checksum_verified"] = checksum_verified_;
  auto& aux = j["aux"] = nlohmann::json::object();
  for (const auto& [k, v] : aux_) aux[k] = v;
  j["keys"] = keys_;
  auto& dbs = j["dbs"] = nlohmann::json::object();
  for (const auto& [db, types] : keys_by_db_type_) {
    auto& d = dbs[std::to_string(db)];
    uint64_t total = 0;
    for (const auto& [t, n] : types) {
      d["types"][t] = n;
      total += n;
    }
    d["keys"] = total;
    auto it = expiring_by_db_.find(db);
    d["expiring"] = it == expiring_by_db_.end() ? 0 : it->second;
  }
  j["encodings"] = encodings_;
  j["hash_fields_with_expiry"] = field_expiries_;
  j["stream_groups"] = stream_groups_;
  auto big = [](const std::vector<BigKey>& list) {
    auto out = nlohmann::json::array();
    for (const auto& k : list)
      out.push_back({{"db", k.db}, {"key", k.key}, {"type", k.type}, {"elements", k.elements}, {"bytes", k.bytes}});
    return out;
  };
  j["biggest_by_elements"] = big(by_elements_);
  j["biggest_by_bytes"] = big(by_bytes_);
  j["functions"] = functions_;
  j["lua_scripts"] = lua_scripts_;
  j["module_values"] = module_values_;
  j["module_aux"] = module_aux_;
  j["slot_info_records"] = slot_infos_;
  j["empty_keys"] = empty_keys_;
  j["trailing_bytes_at"] = trailing_at_ ? nlohmann::json(*trailing_at_) : nlohmann::json();
  return j;
}

std::string RdbInspector::to_text() const {
  std::string out = fmt::format("RDB version {}{}\n", version_,
                                checksum_verified_ ? ", checksum verified" : ", no checksum (written with it disabled)");
  for (const auto& [k, v] : aux_) out += fmt::format("  aux {} = {}\n", k, v);
  out += fmt::format("{} keys\n", keys_);
  for (const auto& [db, types] : keys_by_db_type_) {
    uint64_t total = 0;
    std::string parts;
    for (const auto& [t, n] : types) {
      total += n;
      parts += fmt::format(" {} {}", t, n);
    }
    auto it = expiring_by_db_.find(db);
    out += fmt::format("  DB {}: {} keys ({} with expiry):{}\n", db, total, it == expiring_by_db_.end() ? 0 : it->second, parts);
  }
  out += "encodings:\n";
  for (const auto& [e, n] : encodings_) out += fmt::format("  {}: {}\n", e, n);
  if (field_expiries_) out += fmt::format("hash fields with their own expiry: {}\n", field_expiries_);
  if (stream_groups_) out += fmt::format("stream consumer groups: {}\n", stream_groups_);
  out += "biggest keys by elements:\n";
  for (const auto& k : by_elements_) out += fmt::format("  {:>10}  {} DB {} '{}'\n", k.elements, k.type, k.db, k.key);
  out += "biggest keys by bytes (as stored):\n";
  for (const auto& k : by_bytes_) out += fmt::format("  {:>10}  {} DB {} '{}'\n", k.bytes, k.type, k.db, k.key);
  if (!functions_.empty()) {
    out += "function libraries:";
    for (const auto& f : functions_) out += " " + f;
    out += "\n";
  }
  if (lua_scripts_) out += fmt::format("Lua scripts (aux 'lua'): {}\n", lua_scripts_);
  for (const auto& [m, n] : module_values_) out += fmt::format("module values of type '{}': {}\n", m, n);
  for (const auto& [m, n] : module_aux_) out += fmt::format("module aux data of type '{}': {}\n", m, n);
  if (empty_keys_) out += fmt::format("empty keys (no elements; redis-server skips them when loading): {}\n", empty_keys_);
  if (trailing_at_) out += fmt::format("bytes after the checksum from offset {} (redis-server ignores them)\n", *trailing_at_);
  return out;
}

}  // namespace ferry::rdb
