// Layouts follow Redis' src/rdb.h, ziplist.c, listpack.c, intset.c and zipmap.c (read, not copied).
#include "rdb/rdb_test_writer.h"

#include "rdb/crc64.h"

#include <lzf.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace ferry::test {

namespace {

// Type bytes and opcodes (src/rdb.h).
enum : uint8_t {
  kString = 0, kList = 1, kSet = 2, kZset = 3, kHash = 4, kZset2 = 5,
  kHashZipmap = 9, kListZiplist = 10, kSetIntset = 11, kZsetZiplist = 12, kHashZiplist = 13,
  kListQuicklist = 14, kHashListpack = 16, kZsetListpack = 17, kListQuicklist2 = 18, kSetListpack = 20,
  kOpIdle = 0xF8, kOpFreq = 0xF9, kOpAux = 0xFA, kOpResizeDb = 0xFB, kOpExpireMs = 0xFC,
  kOpExpireS = 0xFD, kOpSelectDb = 0xFE, kOpEof = 0xFF,
};

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// The integer a string stands for, when it is the canonical text of one: no sign but '-', no
// leading zeros, no "-0", no spaces, within int64. Ziplists, listpacks and RDB_ENC_INT all use
// this rule (Redis' string2ll + ll2string round trip), so "007" or "+1" stay strings.
bool canonical_int(std::string_view s, int64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return false;
  if (std::to_string(v) != s) return false;
  out = v;
  return true;
}

// LZF-compresses s; empty when that does not make it smaller.
std::string lzf(std::string_view s) {
  if (s.size() < 2) return {};
  std::string out(s.size() - 1, '\0');
  unsigned n = lzf_compress(s.data(), static_cast<unsigned>(s.size()), out.data(), static_cast<unsigned>(out.size()));
  out.resize(n);
  return out;
}

// ---- Ziplist ----
// <zlbytes u32 LE> <zltail u32 LE: offset of the last entry> <zllen u16 LE, 65535 = "count it">
// <entry>... <0xFF>. An entry is <prevlen> <encoding> <data>: prevlen is the previous entry's
// whole size, 1 byte when < 254, else 0xFE + u32 LE. Encodings:
//   00pppppp                  string, 6-bit length          C0 int16   D0 int32   E0 int64
//   01pppppp qqqqqqqq         string, 14-bit length (BE)    F0 int24   FE int8
//   10000000 + 4 bytes (BE)   string, 32-bit length         F1..FD: the integer 0..12 itself
// Only strings shorter than 32 bytes are tried as integers (ziplist.c zipTryEncoding).
std::string ziplist_entry(size_t prevlen, std::string_view s) {
  std::string e;
  if (prevlen < 254) {
    e.push_back(static_cast<char>(prevlen));
  } else {
    e.push_back(static_cast<char>(0xFE));
    put_le(e, prevlen, 4);
  }
  int64_t v;
  if (s.size() < 32 && canonical_int(s, v)) {
    if (v >= 0 && v <= 12) {
      e.push_back(static_cast<char>(0xF1 + v));
    } else if (v >= INT8_MIN && v <= INT8_MAX) {
      e.push_back(static_cast<char>(0xFE));
      put_le(e, static_cast<uint64_t>(v), 1);
    } else if (v >= INT16_MIN && v <= INT16_MAX) {
      e.push_back(static_cast<char>(0xC0));
      put_le(e, static_cast<uint64_t>(v), 2);
    } else if (v >= -(1 << 23) && v < (1 << 23)) {
      e.push_back(static_cast<char>(0xF0));
      put_le(e, static_cast<uint64_t>(v), 3);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      e.push_back(static_cast<char>(0xD0));
      put_le(e, static_cast<uint64_t>(v), 4);
    } else {
      e.push_back(static_cast<char>(0xE0));
      put_le(e, static_cast<uint64_t>(v), 8);
    }
    return e;
  }
  if (s.size() <= 63) {
    e.push_back(static_cast<char>(s.size()));
  } else if (s.size() <= 16383) {
    e.push_back(static_cast<char>(0x40 | (s.size() >> 8)));
    e.push_back(static_cast<char>(s.size() & 0xFF));
  } else {
    e.push_back(static_cast<char>(0x80));
    put_be(e, s.size(), 4);
  }
  e.append(s);
  return e;
}

// ---- Listpack ----
// <total bytes u32 LE> <count u16 LE, 65535 = "count it"> <entry>... <0xFF>. An entry is
// <encoding+data> <backlen>, backlen being the size of encoding+data in 1-5 bytes read right to
// left: 7 bits per byte, every byte but the leftmost one has its high bit set. Encodings:
//   0xxxxxxx          7-bit uint            10pppppp + data            string, 6-bit length
//   110xxxxx + 1 byte 13-bit int (BE bits)  1110pppp qqqqqqqq + data   string, 12-bit length
//   F1/F2/F3/F4       16/24/32/64-bit LE    F0 + 4-byte LE len + data  string, 32-bit length
std::string listpack_entry(std::string_view s) {
  std::string e;
  int64_t v;
  if (canonical_int(s, v)) {
    if (v >= 0 && v <= 127) {
      e.push_back(static_cast<char>(v));
    } else if (v >= -4096 && v <= 4095) {
      uint64_t u = v < 0 ? (uint64_t{1} << 13) + v : static_cast<uint64_t>(v);
      e.push_back(static_cast<char>(0xC0 | (u >> 8)));
      e.push_back(static_cast<char>(u & 0xFF));
    } else if (v >= INT16_MIN && v <= INT16_MAX) {
      e.push_back(static_cast<char>(0xF1));
      put_le(e, static_cast<uint64_t>(v), 2);
    } else if (v >= -(1 << 23) && v < (1 << 23)) {
      e.push_back(static_cast<char>(0xF2));
      put_le(e, static_cast<uint64_t>(v), 3);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      e.push_back(static_cast<char>(0xF3));
      put_le(e, static_cast<uint64_t>(v), 4);
    } else {
      e.push_back(static_cast<char>(0xF4));
      put_le(e, static_cast<uint64_t>(v), 8);
    }
  } else if (s.size() < 64) {
    e.push_back(static_cast<char>(0x80 | s.size()));
    e.append(s);
  } else if (s.size() < 4096) {
    e.push_back(static_cast<char>(0xE0 | (s.size() >> 8)));
    e.push_back(static_cast<char>(s.size() & 0xFF));
    e.append(s);
  } else {
    e.push_back(static_cast<char>(0xF0));
    put_le(e, s.size(), 4);
    e.append(s);
  }
  // backlen: the same thresholds as listpack.c lpEncodeBacklen (note 16383 takes 3 bytes).
  uint64_t l = e.size();
  int n = l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;
  for (int i = n - 1; i >= 0; --i) {
    uint8_t b = (l >> (7 * i)) & 127;
    if (i != n - 1) b |= 128;
    e.push_back(static_cast<char>(b));
  }
  return e;
}

// Sorted set entries in the order ziplists and listpacks keep them: by score, then member bytes.
ScoredMembers by_score(ScoredMembers entries) {
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.second != b.second ? a.second < b.second : a.first < b.first; });
  return entries;
}

Elements flatten(const ScoredMembers& entries) {
  Elements out;
  for (const auto& [member, score] : by_score(entries)) {
    out.push_back(member);
    out.push_back(RdbTestWriter::score_text(score));
  }
  return out;
}

Elements flatten(const FieldValues& pairs) {
  Elements out;
  for (const auto& [f, v] : pairs) {
    out.push_back(f);
    out.push_back(v);
  }
  return out;
}

}  // namespace

// ---- Blobs ----

std::string RdbTestWriter::ziplist_blob(const Elements& entries) {
  std::string body;
  size_t prevlen = 0, tail = 10;  // the header is 10 bytes; an empty ziplist's tail points at 0xFF
  for (const auto& s : entries) {
    tail = 10 + body.size();
    std::string e = ziplist_entry(prevlen, s);
    prevlen = e.size();
    body += e;
  }
  std::string zl;
  put_le(zl, 10 + body.size() + 1, 4);
  put_le(zl, tail, 4);
  put_le(zl, std::min<size_t>(entries.size(), 65535), 2);
  zl += body;
  zl.push_back(static_cast<char>(0xFF));
  return zl;
}

std::string RdbTestWriter::listpack_blob(const Elements& entries) {
  std::string body;
  for (const auto& s : entries) body += listpack_entry(s);
  std::string lp;
  put_le(lp, 6 + body.size() + 1, 4);
  put_le(lp, std::min<size_t>(entries.size(), 65535), 2);
  lp += body;
  lp.push_back(static_cast<char>(0xFF));
  return lp;
}

// Intset: <encoding u32 LE: 2, 4 or 8 = bytes per entry> <count u32 LE> <entries LE, ascending>.
std::string RdbTestWriter::intset_blob(std::vector<int64_t> members) {
  std::sort(members.begin(), members.end());
  int width = 2;
  for (int64_t v : members) {
    if (v < INT32_MIN || v > INT32_MAX) width = 8;
    else if ((v < INT16_MIN || v > INT16_MAX) && width < 4) width = 4;
  }
  std::string is;
  put_le(is, width, 4);
  put_le(is, members.size(), 4);
  for (int64_t v : members) put_le(is, static_cast<uint64_t>(v), width);
  return is;
}

// Zipmap (Redis < 2.6 hashes): <count u8, 254 = "count it"> then per pair <len> field <len>
// <free u8> value <free bytes>, then 0xFF. A <len> is 1 byte when < 254, else 0xFE + u32 in host
// order (little-endian on every machine that wrote these).
std::string RdbTestWriter::zipmap_blob(const FieldValues& pairs, uint8_t free_bytes) {
  auto put_len = [](std::string& out, size_t len) {
    if (len < 254) {
      out.push_back(static_cast<char>(len));
    } else {
      out.push_back(static_cast<char>(0xFE));
      put_le(out, len, 4);
    }
  };
  std::string zm;
  zm.push_back(static_cast<char>(std::min<size_t>(pairs.size(), 254)));
  for (const auto& [f, v] : pairs) {
    put_len(zm, f.size());
    zm += f;
    put_len(zm, v.size());
    zm.push_back(static_cast<char>(free_bytes));
    zm += v;
    zm.append(free_bytes, '\0');
  }
  zm.push_back(static_cast<char>(0xFF));
  return zm;
}

// d2string(): integral values within +-2^62 as integers, the rest "%.17g" ("inf", "-inf", "nan").
std::string RdbTestWriter::score_text(double score) {
  const double limit = static_cast<double>(INT64_MAX / 2);
  if (!std::isnan(score) && score >= -limit && score <= limit && score == static_cast<double>(static_cast<int64_t>(score)))
    return std::to_string(static_cast<int64_t>(score));
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%.17g", score);
  return std::string(buf, n);
}

// ---- The file ----

RdbTestWriter::RdbTestWriter(int rdb_version) : version_(rdb_version) {
  char header[16];
  if (rdb_version == 80) std::snprintf(header, sizeof header, "VALKEY080");
  else std::snprintf(header, sizeof header, "REDIS%04d", rdb_version);
  out_ = header;
}

void RdbTestWriter::check_open() const {
  if (ended_) throw std::logic_error("RdbTestWriter: write after end()");
}

// Length: 00|XXXXXX, 01|XXXXXX XXXXXXXX (14 bits, BE), 0x80 + u32 BE, 0x81 + u64 BE.
void RdbTestWriter::put_length(uint64_t len) {
  if (length_form_ == LengthForm::Always64Bit || len > UINT32_MAX) {
    put_byte(0x81);
    put_be(out_, len, 8);
  } else if (length_form_ == LengthForm::AtLeast32Bit || len >= (1 << 14)) {
    put_byte(0x80);
    put_be(out_, len, 4);
  } else if (len >= (1 << 6)) {
    put_byte(0x40 | (len >> 8));
    put_byte(len & 0xFF);
  } else {
    put_byte(static_cast<uint8_t>(len));
  }
}

// Strings: a length and the bytes, or 11|XXXXXX then an encoded form:
//   C0 int8, C1 int16 LE, C2 int32 LE, C3 <compressed len> <original len> <LZF data>.
void RdbTestWriter::put_raw_string(std::string_view s) {
  put_length(s.size());
  out_.append(s);
}

bool RdbTestWriter::put_int_string(int64_t v) {
  if (v >= INT8_MIN && v <= INT8_MAX) {
    put_byte(0xC0);
    put_le(out_, static_cast<uint64_t>(v), 1);
  } else if (v >= INT16_MIN && v <= INT16_MAX) {
    put_byte(0xC1);
    put_le(out_, static_cast<uint64_t>(v), 2);
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    put_byte(0xC2);
    put_le(out_, static_cast<uint64_t>(v), 4);
  } else {
    return false;
  }
  return true;
}

bool RdbTestWriter::put_lzf_string(std::string_view s) {
  std::string packed = lzf(s);
  if (packed.empty()) return false;
  put_byte(0xC3);
  put_length(packed.size());
  put_length(s.size());
  out_ += packed;
  return true;
}

void RdbTestWriter::put_string(std::string_view s) {
  if (string_form_ == StringForm::Auto) {
    int64_t v;
    if (s.size() <= 11 && canonical_int(s, v) && put_int_string(v)) return;
    if (s.size() > 20 && put_lzf_string(s)) return;
  }
  put_raw_string(s);
}

void RdbTestWriter::put_blob(const std::string& blob) {
  if (lzf_blobs_ && put_lzf_string(blob)) return;
  put_raw_string(blob);
}

// Type 3 scores: <len u8> "text", or one byte 253 nan, 254 +inf, 255 -inf.
void RdbTestWriter::put_string_double(double score) {
  if (std::isnan(score)) {
    put_byte(253);
  } else if (std::isinf(score)) {
    put_byte(score > 0 ? 254 : 255);
  } else {
    std::string text = score_text(score);
    put_byte(static_cast<uint8_t>(text.size()));
    out_ += text;
  }
}

void RdbTestWriter::opcode(uint8_t op) {
  check_open();
  put_byte(op);
}

void RdbTestWriter::key_header(uint8_t type, std::string_view key) {
  opcode(type);
  put_string(key);
}

RdbTestWriter& RdbTestWriter::blob_value(uint8_t type, std::string_view key, const std::string& blob) {
  key_header(type, key);
  put_blob(blob);
  return *this;
}

// ---- Opcodes ----

RdbTestWriter& RdbTestWriter::aux(std::string_view key, std::string_view value) {
  opcode(kOpAux);
  put_string(key);
  put_string(value);
  return *this;
}

RdbTestWriter& RdbTestWriter::select_db(uint64_t db) {
  opcode(kOpSelectDb);
  put_length(db);
  return *this;
}

RdbTestWriter& RdbTestWriter::resize_db(uint64_t size, uint64_t expires) {
  opcode(kOpResizeDb);
  put_length(size);
  put_length(expires);
  return *this;
}

RdbTestWriter& RdbTestWriter::expire_ms(int64_t abs_ms) {
  opcode(kOpExpireMs);
  put_le(out_, static_cast<uint64_t>(abs_ms), 8);
  return *this;
}

RdbTestWriter& RdbTestWriter::expire_s(int32_t abs_seconds) {
  opcode(kOpExpireS);
  put_le(out_, static_cast<uint32_t>(abs_seconds), 4);
  return *this;
}

RdbTestWriter& RdbTestWriter::idle(uint64_t seconds) {
  opcode(kOpIdle);
  put_length(seconds);
  return *this;
}

RdbTestWriter& RdbTestWriter::freq(uint8_t counter) {
  opcode(kOpFreq);
  put_byte(counter);
  return *this;
}

RdbTestWriter& RdbTestWriter::raw(std::string_view bytes) {
  check_open();
  out_.append(bytes);
  return *this;
}

// ---- Strings ----

RdbTestWriter& RdbTestWriter::string_raw(std::string_view key, std::string_view value) {
  key_header(kString, key);
  put_raw_string(value);
  return *this;
}

RdbTestWriter& RdbTestWriter::string_int(std::string_view key, int64_t value) {
  key_header(kString, key);
  if (!put_int_string(value)) put_raw_string(std::to_string(value));
  return *this;
}

RdbTestWriter& RdbTestWriter::string_lzf(std::string_view key, std::string_view value) {
  key_header(kString, key);
  if (!put_lzf_string(value)) put_raw_string(value);
  return *this;
}

// ---- Lists ----
// Type 1: <count> <string>...   Type 10: one ziplist blob.
// Type 14: <node count> <ziplist blob>...
// Type 18: <node count> then per node <container: 1 plain, 2 listpack> <blob or the element>.

RdbTestWriter& RdbTestWriter::list_plain(std::string_view key, const Elements& values) {
  key_header(kList, key);
  put_length(values.size());
  for (const auto& v : values) put_string(v);
  return *this;
}

RdbTestWriter& RdbTestWriter::list_ziplist(std::string_view key, const Elements& values) {
  return blob_value(kListZiplist, key, ziplist_blob(values));
}

RdbTestWriter& RdbTestWriter::list_quicklist_ziplist(std::string_view key, const Elements& values, size_t node_size) {
  if (node_size == 0) throw std::invalid_argument("list_quicklist_ziplist: node_size must be > 0");
  key_header(kListQuicklist, key);
  put_length((values.size() + node_size - 1) / node_size);
  for (size_t i = 0; i < values.size(); i += node_size) {
    size_t end = std::min(values.size(), i + node_size);
    put_blob(ziplist_blob(Elements(values.begin() + i, values.begin() + end)));
  }
  return *this;
}

RdbTestWriter& RdbTestWriter::list_quicklist2(std::string_view key, const Elements& values, size_t node_size,
                                              size_t plain_from) {
  if (node_size == 0) throw std::invalid_argument("list_quicklist2: node_size must be > 0");
  // A plain node may not be empty: Redis refuses zero-length node data.
  auto is_plain = [&](const std::string& v) { return !v.empty() && v.size() >= plain_from; };
  struct Node {
    bool plain;
    Elements values;
  };
  std::vector<Node> nodes;
  for (const auto& v : values) {
    if (is_plain(v)) {
      nodes.push_back({true, {v}});
    } else if (nodes.empty() || nodes.back().plain || nodes.back().values.size() == node_size) {
      nodes.push_back({false, {v}});
    } else {
      nodes.back().values.push_back(v);
    }
  }
  key_header(kListQuicklist2, key);
  put_length(nodes.size());
  for (const auto& node : nodes) {
    put_length(node.plain ? 1 : 2);
    if (node.plain) put_string(node.values.front());
    else put_blob(listpack_blob(node.values));
  }
  return *this;
}

// ---- Sets ----
// Type 2: <count> <string>...   Type 11: one intset blob.   Type 20: one listpack blob.

RdbTestWriter& RdbTestWriter::set_plain(std::string_view key, const Elements& members) {
  key_header(kSet, key);
  put_length(members.size());
  for (const auto& m : members) put_string(m);
  return *this;
}

RdbTestWriter& RdbTestWriter::set_intset(std::string_view key, std::vector<int64_t> members) {
  return blob_value(kSetIntset, key, intset_blob(std::move(members)));
}

RdbTestWriter& RdbTestWriter::set_listpack(std::string_view key, const Elements& members) {
  return blob_value(kSetListpack, key, listpack_blob(members));
}

// ---- Sorted sets ----
// Type 3: <count> (<member string> <text score>)...   Type 5: <count> (<member> <8-byte LE double>)...
// Types 12 and 17: one ziplist / listpack blob of member, score, member, score ...

RdbTestWriter& RdbTestWriter::zset_plain(std::string_view key, const ScoredMembers& entries) {
  key_header(kZset, key);
  put_length(entries.size());
  for (const auto& [member, score] : entries) {
    put_string(member);
    put_string_double(score);
  }
  return *this;
}

RdbTestWriter& RdbTestWriter::zset_2(std::string_view key, const ScoredMembers& entries) {
  key_header(kZset2, key);
  put_length(entries.size());
  for (const auto& [member, score] : entries) {
    put_string(member);
    uint64_t bits;
    static_assert(sizeof bits == sizeof score);
    std::memcpy(&bits, &score, sizeof bits);
    put_le(out_, bits, 8);
  }
  return *this;
}

RdbTestWriter& RdbTestWriter::zset_ziplist(std::string_view key, const ScoredMembers& entries) {
  return blob_value(kZsetZiplist, key, ziplist_blob(flatten(entries)));
}

RdbTestWriter& RdbTestWriter::zset_listpack(std::string_view key, const ScoredMembers& entries) {
  return blob_value(kZsetListpack, key, listpack_blob(flatten(entries)));
}

// ---- Hashes ----
// Type 4: <count> (<field> <value>)...   Types 9, 13, 16: one zipmap / ziplist / listpack blob of
// field, value, field, value ...

RdbTestWriter& RdbTestWriter::hash2_valkey(std::string_view key,
                                          const std::vector<std::tuple<std::string, std::string, int64_t>>& entries) {
  key_header(22, key);
  put_length(entries.size());
  for (const auto& [f, v, at] : entries) {
    put_string(f);
    put_string(v);
    put_le(out_, static_cast<uint64_t>(at), 8);
  }
  return *this;
}

RdbTestWriter& RdbTestWriter::function_pre_ga(std::string_view name, std::string_view engine, std::string_view description,
                                              std::string_view code) {
  opcode(246);
  put_raw_string(name);
  put_raw_string(engine);
  put_length(description.empty() ? 0 : 1);
  if (!description.empty()) put_raw_string(description);
  put_raw_string(code);
  return *this;
}

RdbTestWriter& RdbTestWriter::module_aux(std::string_view type_name, uint64_t value) {
  static constexpr char kCharset[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint64_t id = 0;
  for (char c : type_name) id = (id << 6) | static_cast<uint64_t>(std::string_view(kCharset).find(c));
  opcode(247);
  put_length(id << 10);  // encver 0
  put_length(2);         // when: RDB_MODULE_OPCODE_UINT
  put_length(1);         // REDISMODULE_AUX_BEFORE_RDB
  put_length(2);         // a value: RDB_MODULE_OPCODE_UINT
  put_length(value);
  put_length(0);         // RDB_MODULE_OPCODE_EOF
  return *this;
}

RdbTestWriter& RdbTestWriter::typed_blob(uint8_t type, std::string_view key, const std::string& blob) {
  return blob_value(type, key, blob);
}

RdbTestWriter& RdbTestWriter::hash_plain(std::string_view key, const FieldValues& pairs) {
  key_header(kHash, key);
  put_length(pairs.size());
  for (const auto& [f, v] : pairs) {
    put_string(f);
    put_string(v);
  }
  return *this;
}

RdbTestWriter& RdbTestWriter::hash_zipmap(std::string_view key, const FieldValues& pairs, uint8_t free_bytes) {
  return blob_value(kHashZipmap, key, zipmap_blob(pairs, free_bytes));
}

RdbTestWriter& RdbTestWriter::hash_ziplist(std::string_view key, const FieldValues& pairs) {
  return blob_value(kHashZiplist, key, ziplist_blob(flatten(pairs)));
}

RdbTestWriter& RdbTestWriter::hash_listpack(std::string_view key, const FieldValues& pairs) {
  return blob_value(kHashListpack, key, listpack_blob(flatten(pairs)));
}

// ---- End ----

const std::string& RdbTestWriter::end(bool with_checksum) {
  opcode(kOpEof);
  if (version_ >= 5) {
    uint64_t crc = with_checksum ? rdb::crc64(0, out_.data(), out_.size()) : 0;
    put_le(out_, crc, 8);
  }
  ended_ = true;
  return out_;
}

void RdbTestWriter::write_file(const std::string& path) const {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(out_.data(), static_cast<std::streamsize>(out_.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

}  // namespace ferry::test
