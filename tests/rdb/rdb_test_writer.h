// A test-only RDB file writer. It builds a whole RDB file in memory and can produce every value
// encoding Redis has ever written, including the ones modern Redis only reads (zipmap, ziplist,
// quicklist of ziplists, string-encoded zset scores), so that tests can feed a parser, or a real
// redis-server, files whose exact bytes they control.
//
// It is deliberately independent of engine/rdb (only the CRC comes from there): it is the oracle
// the parser is checked against, so it must not share the parser's constants or mistakes.
//
// Usage:
//   RdbTestWriter w;                       // "REDIS0010"
//   w.aux("redis-ver", "7.0.0").select_db(0).resize_db(2, 1);
//   w.expire_ms(now + 60000).string_raw("greeting", "hello");
//   w.hash_ziplist("h", {{"f", "v"}});
//   const std::string& file = w.end();     // 0xFF + CRC64
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace ferry::test {

using Elements = std::vector<std::string>;
using FieldValues = std::vector<std::pair<std::string, std::string>>;
using ScoredMembers = std::vector<std::pair<std::string, double>>;  // member, score

// How RDB lengths (string lengths, element counts, DB numbers, idle seconds ...) are written.
// Redis always writes the smallest form; loaders accept any, so tests can force the wide ones.
enum class LengthForm {
  Smallest,      // 00|6 bits, 01|14 bits, 0x80 + 32 bits, 0x81 + 64 bits, whichever fits first
  AtLeast32Bit,  // 0x80 + 32 bits unless the value needs 64
  Always64Bit,   // 0x81 + 64 bits
};

// How key names, aux fields, elements of the plain container types (list 1, set 2, zset 3/5,
// hash 4) and plain quicklist nodes are written.
enum class StringForm {
  Raw,   // length + bytes
  Auto,  // like Redis: integer encoding for canonical integers that fit 32 bits, LZF for strings
         // over 20 bytes when it makes them smaller, else raw
};

class RdbTestWriter {
 public:
  explicit RdbTestWriter(int rdb_version = 10);

  // ---- Options (apply to everything written after them) ----
  RdbTestWriter& length_form(LengthForm form) { length_form_ = form; return *this; }
  RdbTestWriter& string_form(StringForm form) { string_form_ = form; return *this; }
  // Write ziplist/listpack/intset/zipmap blobs LZF-compressed when that makes them smaller.
  RdbTestWriter& lzf_blobs(bool on) { lzf_blobs_ = on; return *this; }

  // ---- Opcodes ----
  RdbTestWriter& aux(std::string_view key, std::string_view value);  // 0xFA key value
  RdbTestWriter& select_db(uint64_t db);                             // 0xFE len
  RdbTestWriter& resize_db(uint64_t size, uint64_t expires);         // 0xFB len len
  RdbTestWriter& expire_ms(int64_t abs_ms);      // 0xFC + 8 bytes LE, applies to the next key
  RdbTestWriter& expire_s(int32_t abs_seconds);  // 0xFD + 4 bytes LE (pre-RDB-3 form)
  RdbTestWriter& idle(uint64_t seconds);         // 0xF8 len: LRU idle time of the next key
  RdbTestWriter& freq(uint8_t counter);          // 0xF9 byte: LFU counter of the next key
  RdbTestWriter& raw(std::string_view bytes);    // anything, verbatim (for corrupt files)

  // ---- Strings (type 0) ----
  RdbTestWriter& string_raw(std::string_view key, std::string_view value);
  // RDB_ENC_INT8/16/32 when the value fits 32 bits, else the decimal text as a raw string.
  RdbTestWriter& string_int(std::string_view key, int64_t value);
  // RDB_ENC_LZF, or raw when LZF does not make the value smaller.
  RdbTestWriter& string_lzf(std::string_view key, std::string_view value);

  // ---- Lists ----
  RdbTestWriter& list_plain(std::string_view key, const Elements& values);     // type 1
  RdbTestWriter& list_ziplist(std::string_view key, const Elements& values);   // type 10
  // Type 14: the values cut into ziplists of at most node_size entries.
  RdbTestWriter& list_quicklist_ziplist(std::string_view key, const Elements& values, size_t node_size);
  // Type 18: runs of values in listpack nodes (container 2) of at most node_size entries; a
  // non-empty value of plain_from bytes or more gets a plain node (container 1) of its own.
  RdbTestWriter& list_quicklist2(std::string_view key, const Elements& values, size_t node_size,
                                 size_t plain_from = std::numeric_limits<size_t>::max());

  // ---- Sets ----
  RdbTestWriter& set_plain(std::string_view key, const Elements& members);  // type 2
  // Type 11: sorted ascending; 2-, 4- or 8-byte entries, the smallest that holds every value.
  RdbTestWriter& set_intset(std::string_view key, std::vector<int64_t> members);
  RdbTestWriter& set_listpack(std::string_view key, const Elements& members);  // type 20 (7.2+)

  // ---- Sorted sets ----
  // Type 3: scores as length-prefixed text; nan, +inf, -inf as the bytes 253, 254, 255.
  RdbTestWriter& zset_plain(std::string_view key, const ScoredMembers& entries);
  RdbTestWriter& zset_2(std::string_view key, const ScoredMembers& entries);  // type 5: binary LE doubles
  // Types 12 and 17: member, score, member, score ... sorted by (score, member) as Redis keeps
  // them; scores are integers when integral (|score| <= 2^62), else "%.17g" text ("inf", "-inf").
  RdbTestWriter& zset_ziplist(std::string_view key, const ScoredMembers& entries);
  RdbTestWriter& zset_listpack(std::string_view key, const ScoredMembers& entries);

  // ---- Hashes ----
  RdbTestWriter& hash_plain(std::string_view key, const FieldValues& pairs);  // type 4
  // Type 9. free_bytes of unused space follow every value, as after an in-place shrink.
  RdbTestWriter& hash_zipmap(std::string_view key, const FieldValues& pairs, uint8_t free_bytes = 0);
  RdbTestWriter& hash_ziplist(std::string_view key, const FieldValues& pairs);   // type 13
  RdbTestWriter& hash_listpack(std::string_view key, const FieldValues& pairs);  // type 16

  // ---- What other tools write ----
  // Valkey 9 (write with version 80: "VALKEY080"): type 22, RDB_TYPE_HASH_2, as Valkey documents
  // it: a count, then field, value and the field's absolute expiry in ms (8 bytes little-endian,
  // -1 for none) for each.
  RdbTestWriter& hash2_valkey(std::string_view key, const std::vector<std::tuple<std::string, std::string, int64_t>>& entries);
  // Opcode 246: a function library as Redis 7.0 rc1/rc2 saved it (name, engine, an optional
  // description, the code without its #! line).
  RdbTestWriter& function_pre_ga(std::string_view name, std::string_view engine, std::string_view description,
                                 std::string_view code);
  // Opcode 247: aux data of a module type (a 9-character name; encver 0), written "before keys",
  // holding one unsigned integer.
  RdbTestWriter& module_aux(std::string_view type_name, uint64_t value);
  // A value of type `type` for `key` whose body is `body` verbatim (a blob string is put_blob'd).
  RdbTestWriter& typed_blob(uint8_t type, std::string_view key, const std::string& blob);

  // 0xFF, then the CRC-64 of everything before it, little-endian (or 8 zero bytes: "checksum
  // disabled"). Versions before 5 have no checksum. Returns the finished file; no writes after.
  const std::string& end(bool with_checksum = true);

  const std::string& bytes() const { return out_; }
  void write_file(const std::string& path) const;

  // ---- The blobs themselves, for tests that check bytes ----
  static std::string ziplist_blob(const Elements& entries);
  static std::string listpack_blob(const Elements& entries);
  static std::string intset_blob(std::vector<int64_t> members);
  static std::string zipmap_blob(const FieldValues& pairs, uint8_t free_bytes = 0);
  // A zset score as Redis 7.0 stores it in a ziplist/listpack (its d2string()).
  static std::string score_text(double score);

 private:
  void check_open() const;
  void put_byte(uint8_t b) { out_.push_back(static_cast<char>(b)); }
  void put_length(uint64_t len);
  void put_raw_string(std::string_view s);
  bool put_int_string(int64_t value);  // false when it does not fit 32 bits
  bool put_lzf_string(std::string_view s);
  void put_string(std::string_view s);  // as string_form() says
  void put_blob(const std::string& blob);
  void put_string_double(double score);
  void opcode(uint8_t op);  // an opcode or type byte
  void key_header(uint8_t type, std::string_view key);
  RdbTestWriter& blob_value(uint8_t type, std::string_view key, const std::string& blob);

  std::string out_;
  int version_;
  LengthForm length_form_ = LengthForm::Smallest;
  StringForm string_form_ = StringForm::Raw;
  bool lzf_blobs_ = false;
  bool ended_ = false;
};

}  // namespace ferry::test
