// Describes an RDB file without writing anything: version, aux fields, keys per DB and type,
// expiries, the biggest keys by elements and by bytes, functions and modules. `ferry rdb inspect`.
#pragma once

#include "rdb/rdb_parser.h"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ferry::rdb {

struct BigKey {
  int db;
  std::string key;  // printable
  std::string type;
  uint64_t elements;
  uint64_t bytes;
};

class RdbInspector : public RdbVisitor {
 public:
  explicit RdbInspector(size_t top = 10) : top_(top) {}

  void on_header(int version) override { version_ = version; }
  void on_aux(const std::string& name, const std::string& value) override;
  void on_function(const std::string& code) override;
  void on_module_aux(const std::string& module_type) override { module_aux_[module_type]++; }
  void on_slot_info(uint64_t, uint64_t, uint64_t) override { ++slot_infos_; }
  size_t on_key_begin(const KeyInfo& key) override;
  void on_string_chunk(std::string_view chunk) override { elements_ = 1; string_bytes_ += chunk.size(); }
  void on_list_items(std::vector<std::string>& v) override { elements_ += v.size(); }
  void on_set_members(std::vector<std::string>& v) override { elements_ += v.size(); }
  void on_zset_members(std::vector<std::pair<std::string, double>>& v) override { elements_ += v.size(); }
  void on_hash_fields(std::vector<FieldValue>& v) override { elements_ += v.size(); }
  void on_hash_field_expiries(std::vector<std::pair<std::string, long long>>& v) override { field_expiries_ += v.size(); }
  void on_stream_entries(std::vector<StreamEntry>& v) override { elements_ += v.size(); }
  void on_stream_group(const StreamGroup&) override { ++stream_groups_; }
  void on_module_value(const std::string& module_type) override { module_values_[module_type]++; }
  void on_key_end(const KeyInfo& key, const std::string* raw) override;
  void on_end(bool checksum_verified) override { checksum_verified_ = checksum_verified; complete_ = true; }
  void on_trailing_bytes(uint64_t offset) override { trailing_at_ = offset; }

  nlohmann::json to_json() const;
  std::string to_text() const;

  uint64_t field_expiries() const { return field_expiries_; }
  const std::map<std::string, uint64_t>& module_values() const { return module_values_; }
  size_t functions() const { return functions_.size(); }

 private:
  void keep_top(std::vector<BigKey>& list, BigKey key, bool by_bytes);
  size_t top_;
  int version_ = 0;
  std::vector<std::pair<std::string, std::string>> aux_;
  std::vector<std::string> functions_;
  size_t lua_scripts_ = 0;
  std::map<std::string, uint64_t> module_aux_, module_values_;
  uint64_t slot_infos_ = 0;
  std::map<int, std::map<std::string, uint64_t>> keys_by_db_type_;
  std::map<int, uint64_t> expiring_by_db_;
  std::map<std::string, uint64_t> encodings_;
  uint64_t keys_ = 0, field_expiries_ = 0, stream_groups_ = 0;
  uint64_t elements_ = 0, string_bytes_ = 0;
  std::vector<BigKey> by_elements_, by_bytes_;
  bool checksum_verified_ = false;
  bool complete_ = false;
  uint64_t empty_keys_ = 0;
  std::optional<uint64_t> trailing_at_;
};

}  // namespace ferry::rdb
