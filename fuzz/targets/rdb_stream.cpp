// Fuzz target: bytes as an RDB stream, through the streaming parser. Clean errors (RdbError,
// FerryError) are expected; anything else (a crash, a sanitizer report, another exception) is a bug.
#include "io/byte_source.h"
#include "rdb/rdb_parser.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

// Reads what the parser hands over, so the sanitizers see every byte touched.
struct Sink : ferry::rdb::RdbVisitor {
  size_t seen = 0;
  size_t on_key_begin(const ferry::KeyInfo& key) override {
    seen += key.key.size();
    return 1 << 20;
  }
  void on_string_chunk(std::string_view chunk) override { seen += chunk.size(); }
  void on_list_items(std::vector<std::string>& items) override { seen += items.size(); }
  void on_set_members(std::vector<std::string>& members) override { seen += members.size(); }
  void on_hash_fields(std::vector<ferry::FieldValue>& fields) override { seen += fields.size(); }
  void on_key_end(const ferry::KeyInfo&, const std::string* raw) override { seen += raw ? raw->size() : 0; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ferry::io::MemorySource source(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz input");
  Sink sink;
  try {
    ferry::rdb::RdbParser parser(source, sink);
    parser.parse();
  } catch (const ferry::rdb::RdbError&) {
  } catch (const ferry::FerryError&) {
  }
  return 0;
}
