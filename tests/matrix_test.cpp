// The small cross of the version matrix (the whole matrix runs nightly: tools/matrix): every mode
// from Redis 6.0 to 7.0 and from 7.0 to Valkey 8.1 is exact; from Redis 8.0 to 7.0 the precheck
// refuses what 7.0 cannot hold (per-field expiry, vector sets), and --skip-unsupported copies the
// rest exactly with the skipped keys counted and listed; the cluster column (a 3-master cluster of
// the source version synced into the target) is exact. Versions not fetched are skipped.
#include "support.h"

#include <filesystem>

using ferry::test::run_ferry;

TEST_CASE("version matrix, small cross: 6.0 -> 7.0, 8.0 -> 7.0, 7.0 -> Valkey 8.1 in every mode and from a cluster",
          "[versions][matrix]") {
  std::string dir = "/tmp/ferry-matrix-test-" + std::to_string(::getpid());
  auto r = run_ferry({"matrix", "--pairs", "redis-6.0:redis-7.0,redis-8.0:redis-7.0,redis-7.0:valkey-8.1", "--keys", "600",
                      "--jobs", "2", "--report-dir", dir, "--log-level", "warn"});
  INFO(r.out);
  INFO(r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0));
  CHECK(r.exit_code == 0);
  auto j = ferry::test::read_json(dir + "/matrix.json");
  size_t ran = 0;
  for (const auto& cell : j["cells"]) {
    std::string where = cell["source"].get<std::string>() + " -> " + cell["target"].get<std::string>() + " " +
                        cell["mode"].get<std::string>();
    INFO(where << ": " << cell["detail"].get<std::string>());
    if (cell["outcome"] == "skipped") {
      WARN("skipped: " << where << ": " << cell["detail"].get<std::string>());
      continue;
    }
    ++ran;
    if (cell["source"] == "redis-8.0" && cell["mode"] != "cluster") {
      CHECK(cell["outcome"] == "refused");
      CHECK(cell["unsupported"] == nlohmann::json::array({"hash-field-ttl", "vectorset"}));
      CHECK(cell["skipped_unsupported"] == 6);  // 3 hashes with field expiry, 3 vector sets
    } else {
      CHECK(cell["outcome"] == "exact");
    }
  }
  CHECK(j["cells"].size() == 15);  // 3 pairs x (4 modes + the cluster column)
  if (ran == 0) WARN("no cell ran: no other server version is fetched (run tools/fetch-servers)");
  if (j["passed"] == true) std::filesystem::remove_all(dir);
}
