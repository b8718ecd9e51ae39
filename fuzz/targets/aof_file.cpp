// Fuzz target: bytes as an AOF, read as `ferry migrate --mode aof` reads it first: a single file
// (an RDB preamble, RESP commands, #TS: annotations, a short tail), or, when it starts "file ", a
// manifest naming files of its own directory. The same bytes also go through the manifest parser.
// Clean errors (exit 5 / 3) are expected; a crash or an escaping exception is a bug.
#include "aof/aof_files.h"
#include "core/error.h"
#include "task/aof_file_check.h"

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string stem = "/tmp/ferry-fuzz-aof-" + std::to_string(::getpid());
  static const bool verbose = std::getenv("FERRY_FUZZ_VERBOSE") != nullptr;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  // Text that looks like manifest lines is read as a manifest (by its name), the rest as an AOF.
  const std::string path = stem + (bytes.substr(0, 256).find(" type ") != std::string::npos ? ".manifest" : ".aof");
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  try {
    ferry::AofCheckOptions options;
    if (size > 0 && (data[size - 1] & 1)) options.until = 1700000003;  // the --aof-until cut too
    ferry::AofFacts facts = ferry::check_aof(ferry::aof::resolve_aof_path(path), options);
    (void)facts.to_text();
    (void)facts.to_json().dump();
    if (verbose) std::fprintf(stderr, "  accepted: %llu commands\n", static_cast<unsigned long long>(facts.commands()));
  } catch (const ferry::FerryError& e) {  // AofError and RdbError included
    if (verbose) std::fprintf(stderr, "  refused: %s\n", e.what());
  }
  try {
    (void)ferry::aof::parse_manifest(bytes, "fuzz manifest", "/tmp");
  } catch (const ferry::FerryError&) {
  }
  ::unlink(path.c_str());
  return 0;
}
