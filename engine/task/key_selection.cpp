#include "task/key_selection.h"

#include "core/error.h"
#include "core/log.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>

namespace ferry {
namespace {

// Matches one pattern element at p[pi] (not '*') against byte c; `len` is the element's length.
bool match_element(std::string_view p, size_t pi, unsigned char c, size_t& len) {
  if (p[pi] == '?') {
    len = 1;
    return true;
  }
  if (p[pi] == '\\' && pi + 1 < p.size()) {
    len = 2;
    return static_cast<unsigned char>(p[pi + 1]) == c;
  }
  if (p[pi] != '[') {
    len = 1;
    return static_cast<unsigned char>(p[pi]) == c;
  }
  size_t i = pi + 1;
  bool negate = i < p.size() && p[i] == '^';
  if (negate) ++i;
  bool hit = false;
  while (i < p.size() && p[i] != ']') {
    if (p[i] == '\\' && i + 1 < p.size()) {
      hit |= static_cast<unsigned char>(p[i + 1]) == c;
      i += 2;
    } else if (i + 2 < p.size() && p[i + 1] == '-') {  // as Redis: "[a-]" is a range ending at ']'...
      unsigned char lo = static_cast<unsigned char>(p[i]), hi = static_cast<unsigned char>(p[i + 2]);
      if (lo > hi) std::swap(lo, hi);
      hit |= c >= lo && c <= hi;
      i += 3;
    } else {
      hit |= static_cast<unsigned char>(p[i]) == c;
      ++i;
    }
  }
  len = (i < p.size() ? i + 1 : i) - pi;  // an unterminated class runs to the pattern's end
  return hit != negate;
}

}  // namespace

bool glob_match(std::string_view p, std::string_view s) {
  size_t pi = 0, si = 0;
  size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star_p = ++pi;
      star_s = si;
      continue;
    }
    size_t len = 0;
    if (pi < p.size() && match_element(p, pi, static_cast<unsigned char>(s[si]), len)) {
      pi += len;
      ++si;
      continue;
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;  // let the last * swallow one more byte
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

struct KeyPattern::Regex {
  pcre2_code* code = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

KeyPattern::KeyPattern(std::string text) : text_(std::move(text)) {
  if (text_.rfind("re:", 0) != 0) {
    glob_ = text_;
    return;
  }
  std::string expr = text_.substr(3);
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(expr.data()), expr.size(), 0, &error, &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw FerryError(ExitCode::Usage, fmt::format("key pattern '{}': bad regular expression at offset {}: {}", text_,
                                                  offset, reinterpret_cast<const char*>(message)));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter when JIT is unavailable
  regex_ = std::make_shared<Regex>();
  regex_->code = code;
}

bool KeyPattern::matches(std::string_view key) const {
  if (!regex_) return glob_match(glob_, key);
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(regex_->code, nullptr);
  int rc = pcre2_match(regex_->code, reinterpret_cast<PCRE2_SPTR>(key.data()), key.size(), 0, 0, data, nullptr);
  pcre2_match_data_free(data);
  if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
    throw FerryError(ExitCode::Failed, fmt::format("key pattern '{}' could not be matched against '{}' (PCRE2 error {})",
                                                   text_, log::printable(key, 60), rc));
  return rc >= 0;
}

KeyFilter::KeyFilter(const std::vector<std::string>& include, const std::vector<std::string>& exclude) {
  for (const auto& p : include) include_.emplace_back(p);
  for (const auto& p : exclude) exclude_.emplace_back(p);
}

bool KeyFilter::selects(std::string_view key) const {
  if (!include_.empty()) {
    bool in = false;
    for (const auto& p : include_)
      if ((in = p.matches(key))) break;
    if (!in) return false;
  }
  for (const auto& p : exclude_)
    if (p.matches(key)) return false;
  return true;
}

std::string KeyFilter::describe() const {
  std::vector<std::string> parts;
  for (const auto& p : include_) parts.push_back("include '" + p.text() + "'");
  for (const auto& p : exclude_) parts.push_back("exclude '" + p.text() + "'");
  return parts.empty() ? "every key" : fmt::format("{}", fmt::join(parts, ", "));
}

std::vector<std::string> KeyFilter::include_texts() const {
  std::vector<std::string> out;
  for (const auto& p : include_) out.push_back(p.text());
  return out;
}

std::vector<std::string> KeyFilter::exclude_texts() const {
  std::vector<std::string> out;
  for (const auto& p : exclude_) out.push_back(p.text());
  return out;
}

DbMap DbMap::parse(const std::string& text) {
  DbMap out;
  std::set<int> targets;
  size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    size_t end = text.find(',', start);
    std::string part = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    int from = -1, to = -1;
    char extra = 0;
    if (std::sscanf(part.c_str(), "%d:%d%c", &from, &to, &extra) != 2 || from < 0 || from > 255 || to < 0 || to > 255)
      throw FerryError(ExitCode::Usage,
                       fmt::format("--db-map '{}': '{}' is not SOURCE:TARGET with DBs 0-255 (e.g. 0:1,5:6)", text, part));
    if (out.map_.count(from))
      throw FerryError(ExitCode::Usage, fmt::format("--db-map '{}': DB {} is mapped twice", text, from));
    if (!targets.insert(to).second)
      throw FerryError(ExitCode::Usage, fmt::format("--db-map '{}': two DBs map to DB {}; ferry maps one DB to one DB", text, to));
    out.map_[from] = to;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

std::string DbMap::describe() const {
  std::vector<std::string> parts;
  for (const auto& [from, to] : map_) parts.push_back(fmt::format("{}:{}", from, to));
  return fmt::format("{}", fmt::join(parts, ","));
}

void DbMap::check(const std::vector<int>& dbs) const {
  std::map<int, int> seen;  // target DB -> source DB
  auto add = [&](int db) {
    auto [it, fresh] = seen.emplace(target(db), db);
    if (!fresh && it->second != db)
      throw FerryError(ExitCode::Usage,
                       fmt::format("--db-map {} sends DB {} and DB {} both into target DB {}: map one of them elsewhere{}",
                                   describe(), it->second, db, it->first, dbs.empty() ? ", or list the DBs with --db" : ""));
  };
  if (!dbs.empty()) {
    for (int db : dbs) add(db);
    return;
  }
  for (int db = 0; db < 256; ++db) add(db);
}

}  // namespace ferry
