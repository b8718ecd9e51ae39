// Which files an AOF is, and in which order they load: a single file (plain RESP, or an RDB preamble
// followed by RESP: Redis before 7.0), or Redis 7's appendonly directory, whose manifest lists one
// base file (RDB or AOF) and the incr files. The manifest is read as redis-server reads it
// (aofLoadManifestFromFile in src/aof.c): `file <name> seq <n> type b|h|i` per line, keys in any
// case, further key/value pairs tolerated, names quoted as sdssplitargs quotes them, `#` comments,
// one base, strictly increasing incr seq, history files (h) never loaded, bare names only.
#pragma once

#include "core/error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::aof {

// An AOF that cannot be loaded: exit 5, the message naming the file and where in it.
class AofError : public FerryError {
 public:
  explicit AofError(const std::string& message) : FerryError(ExitCode::CorruptInput, message) {}
};

enum class PartType { Single, Base, Incr };
const char* part_type_name(PartType type);  // "single", "base", "incr"

struct AofPart {
  std::string name;  // as the manifest names it (the file's name for a single file)
  std::string path;  // where it is read
  PartType type = PartType::Single;
  long long seq = 0;  // 0 for a single file
};

struct Manifest {
  std::optional<AofPart> base;
  std::vector<AofPart> incr;            // in the manifest's (increasing) order
  std::vector<std::string> history;     // names of history files: listed, never loaded
};

// Parses a manifest's text. `where` names it in errors ("manifest DIR/appendonly.aof.manifest");
// `dir` is prefixed to each file name to make its path. Throws AofError naming the line.
Manifest parse_manifest(std::string_view text, const std::string& where, const std::string& dir);

struct AofLayout {
  std::string input;     // the path given
  std::string manifest;  // the manifest's path; empty for a single file
  std::vector<AofPart> parts;  // in load order: the base (if any), then the incr files
  std::vector<std::string> history;
  // "AOF directory D (manifest M: base + 3 incr files)" / "AOF file F".
  std::string describe() const;
};

// PATH is a single AOF file, an appendonly directory (the one *.manifest in it), or a manifest file
// (its name ends in .manifest, or its first line starts with "file "). Every file the manifest names
// must exist. Throws AofError when PATH is none of these or the manifest is wrong.
AofLayout resolve_aof_path(const std::string& path);

}  // namespace ferry::aof
