#include "aof/aof_files.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <strings.h>

namespace ferry::aof {
namespace fs = std::filesystem;
namespace {

constexpr size_t kManifestMaxLine = 1024;  // MANIFEST_MAX_LINE in src/aof.c

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The words of a line as Redis's sdssplitargs splits them: blanks between words, "double quotes"
// with \n \r \t \b \a \\ \" and \xHH, 'single quotes' with \' only, a closing quote followed by a
// blank or the end. nullopt where sdssplitargs returns NULL (unbalanced quotes).
std::optional<std::vector<std::string>> split_args(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  const size_t n = line.size();
  while (true) {
    while (i < n && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i >= n) return out;
    std::string word;
    bool in_double = false, in_single = false, done = false;
    while (!done) {
      if (in_double) {
        if (i >= n) return std::nullopt;
        if (line[i] == '\\' && i + 3 < n && line[i + 1] == 'x' && hex_digit(line[i + 2]) >= 0 && hex_digit(line[i + 3]) >= 0) {
          word.push_back(static_cast<char>(hex_digit(line[i + 2]) * 16 + hex_digit(line[i + 3])));
          i += 3;
        } else if (line[i] == '\\' && i + 1 < n) {
          ++i;
          switch (line[i]) {
            case 'n': word.push_back('\n'); break;
            case 'r': word.push_back('\r'); break;
            case 't': word.push_back('\t'); break;
            case 'b': word.push_back('\b'); break;
            case 'a': word.push_back('\a'); break;
            default: word.push_back(line[i]); break;
          }
        } else if (line[i] == '"') {
          if (i + 1 < n && !std::isspace(static_cast<unsigned char>(line[i + 1]))) return std::nullopt;
          done = true;
        } else {
          word.push_back(line[i]);
        }
      } else if (in_single) {
        if (i >= n) return std::nullopt;
        if (line[i] == '\\' && i + 1 < n && line[i + 1] == '\'') {
          ++i;
          word.push_back('\'');
        } else if (line[i] == '\'') {
          if (i + 1 < n && !std::isspace(static_cast<unsigned char>(line[i + 1]))) return std::nullopt;
          done = true;
        } else {
          word.push_back(line[i]);
        }
      } else {
        if (i >= n) {
          done = true;
          break;
        }
        switch (line[i]) {
          case ' ': case '\n': case '\r': case '\t': case '\0': done = true; break;
          case '"': in_double = true; break;
          case '\'': in_single = true; break;
          default: word.push_back(line[i]); break;
        }
      }
      if (i < n) ++i;
    }
    out.push_back(std::move(word));
  }
}

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw AofError(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool looks_like_manifest(const fs::path& p) {
  if (p.extension() == ".manifest") return true;
  std::ifstream in(p, std::ios::binary);
  char head[5] = {};
  in.read(head, 5);
  return in.gcount() == 5 && strncasecmp(head, "file ", 5) == 0;
}

}  // namespace

const char* part_type_name(PartType type) {
  switch (type) {
    case PartType::Single: return "single";
    case PartType::Base: return "base";
    case PartType::Incr: return "incr";
  }
  return "?";
}

Manifest parse_manifest(std::string_view text, const std::string& where, const std::string& dir) {
  Manifest m;
  long long max_seq = 0;
  size_t line_no = 0, pos = 0;
  auto fail = [&](const std::string& what) -> AofError {
    return AofError(fmt::format("{} line {}: {} (redis-server refuses it too)", where, line_no, what));
  };
  if (text.empty()) throw AofError(fmt::format("{}: the manifest is empty (redis-server: \"Found an empty AOF manifest\")", where));
  while (pos < text.size()) {
    ++line_no;
    // A piece as Redis's fgets(buf, 1025) reads it: up to and with the "\n", at most 1024 bytes.
    // A comment longer than that goes on as a piece of its own (not a comment, then).
    const size_t nl = text.find('\n', pos);
    const size_t end = std::min(nl == std::string_view::npos ? text.size() : nl + 1, pos + kManifestMaxLine);
    const std::string_view piece = text.substr(pos, end - pos);
    pos = end;
    if (piece[0] == '#') continue;  // a comment
    const size_t piece_nl = piece.find('\n');
    if (piece_nl == std::string_view::npos)
      throw fail(piece.size() >= kManifestMaxLine ? fmt::format("a line longer than {} bytes", kManifestMaxLine - 1)
                                                  : "the last line has no newline");
    // Redis looks for the "\n" with strchr: a NUL before it hides it.
    if (piece.find('\0') < piece_nl) throw fail("a NUL byte in a line");
    const std::string_view raw = piece.substr(0, piece_nl);
    // sdstrim(" \t\r\n") at both ends.
    size_t b = raw.find_first_not_of(" \t\r\n"), e = raw.find_last_not_of(" \t\r\n");
    if (b == std::string_view::npos) throw fail("an empty line");
    auto words = split_args(raw.substr(b, e - b + 1));
    if (!words) throw fail("unbalanced quotes");
    if (words->size() < 6 || words->size() % 2)
      throw fail(fmt::format("{} words where 'file <name> seq <n> type <b|h|i>' pairs are expected", words->size()));
    AofPart part;
    char type = 0;
    bool named = false;
    for (size_t i = 0; i < words->size(); i += 2) {
      const std::string& key = (*words)[i];
      const std::string& value = (*words)[i + 1];
      if (strcasecmp(key.c_str(), "file") == 0) {
        if (value.find('/') != std::string::npos || value.find('\\') != std::string::npos)
          throw fail(fmt::format("the file name '{}' is a path; a manifest names files of its own directory only", value));
        part.name = value;
        named = !value.empty();
      } else if (strcasecmp(key.c_str(), "seq") == 0) {
        part.seq = std::atoll(value.c_str());
      } else if (strcasecmp(key.c_str(), "type") == 0) {
        type = value.empty() ? 0 : value[0];
      }  // other keys: tolerated, as Redis does for forward compatibility
    }
    if (!named || part.seq == 0 || type == 0) throw fail("a line without its file name, seq (not 0) and type");
    part.path = (fs::path(dir) / part.name).string();
    if (type == 'b') {
      if (m.base) throw fail(fmt::format("a second base file ('{}' after '{}')", part.name, m.base->name));
      part.type = PartType::Base;
      m.base = part;
    } else if (type == 'h') {
      m.history.push_back(part.name);
    } else if (type == 'i') {
      if (part.seq <= max_seq)
        throw fail(fmt::format("incr file '{}' has seq {}, not above the previous incr file's {}", part.name, part.seq, max_seq));
      max_seq = part.seq;
      part.type = PartType::Incr;
      m.incr.push_back(part);
    } else {
      throw fail(fmt::format("unknown file type '{}' (b, h or i)", type));
    }
  }
  return m;
}

std::string AofLayout::describe() const {
  if (manifest.empty()) return "AOF file " + input;
  size_t incr = parts.size() - (!parts.empty() && parts.front().type == PartType::Base ? 1 : 0);
  return fmt::format("AOF directory {} ({}{} incr file{})", fs::path(manifest).parent_path().string(),
                     incr == parts.size() ? "no base, " : "base + ", incr, incr == 1 ? "" : "s");
}

AofLayout resolve_aof_path(const std::string& path) {
  AofLayout layout;
  layout.input = path;
  std::error_code ec;
  const fs::path p(path);
  const auto status = fs::status(p, ec);
  if (ec || !fs::exists(status)) throw AofError(fmt::format("{}: no such file or directory", path));
  fs::path manifest;
  if (fs::is_directory(status)) {
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(p, ec))
      if (entry.path().extension() == ".manifest" && entry.path().filename().string().rfind("temp-", 0) != 0)
        found.push_back(entry.path());
    if (found.empty())
      throw AofError(fmt::format("{}: a directory without an AOF manifest (*.manifest); name an AOF file, or the "
                                 "appendonly directory Redis 7 writes (appenddirname)",
                                 path));
    if (found.size() > 1)
      throw AofError(fmt::format("{}: holds {} manifests ({}, {} ...); name the one to load", path, found.size(),
                                 found[0].filename().string(), found[1].filename().string()));
    manifest = found.front();
  } else if (looks_like_manifest(p)) {
    manifest = p;
  } else {
    layout.parts.push_back(AofPart{p.filename().string(), path, PartType::Single, 0});
    return layout;
  }
  layout.manifest = manifest.string();
  const std::string dir = manifest.parent_path().string();
  Manifest m = parse_manifest(read_whole(layout.manifest), "manifest " + layout.manifest, dir);
  if (m.base) layout.parts.push_back(*m.base);
  layout.parts.insert(layout.parts.end(), m.incr.begin(), m.incr.end());
  layout.history = m.history;
  if (layout.parts.empty())
    throw AofError(fmt::format("manifest {} names no base or incr file (only history)", layout.manifest));
  for (const auto& part : layout.parts)
    if (!fs::is_regular_file(part.path, ec))
      throw AofError(fmt::format("manifest {} names {} file '{}', which is not there ({}): redis-server refuses to load "
                                 "such a directory",
                                 layout.manifest, part_type_name(part.type), part.name, part.path));
  return layout;
}

}  // namespace ferry::aof
