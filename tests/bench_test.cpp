// ferry bench on a small dataset: every copy it times must be equal to the source, and the report
// must hold every phase's figures. (Timings are printed by the benchmark, never asserted here.)
#include "support.h"

using ferry::test::run_ferry;

TEST_CASE("bench: every timed copy equals the source and every phase is reported", "[bench]") {
  std::string report = "/tmp/ferry-bench-test-" + std::to_string(::getpid()) + ".json";
  auto r = run_ferry({"bench", "--dataset", "mixed", "--keys", "3000", "--runs", "1", "--load-requests", "20000",
                      "--report", report});
  REQUIRE(r.exit_code == 0);
  auto j = ferry::test::read_json(report);
  std::remove(report.c_str());
  CHECK(j["source_keys"].get<long long>() >= 2900);
  for (const char* copy : {"native_diskless_load", "native_disk_load", "ferry_snapshot"}) {
    INFO(copy);
    CHECK(j["full_sync"][copy]["equal"] == true);
    CHECK(j["full_sync"][copy]["seconds"].get<double>() > 0);
  }
  CHECK(j["full_sync"]["ferry_snapshot"]["peak_rss_mb"].get<double>() > 0);
  CHECK(j["scan"]["ferry_scan"]["equal"] == true);
  CHECK(j["scan"]["naive_redis_cli_pipe"]["seconds"].get<double>() > 0);
  CHECK(j["verify"]["exit_code"] == 0);
  CHECK(j["aof"]["native_load"]["equal"] == true);
  CHECK(j["aof"]["ferry_aof"]["equal"] == true);
  CHECK(j["aof"]["aof_bytes"].get<long long>() > 0);
  CHECK(j["tls"]["ferry_snapshot_tls"]["equal"] == true);
  CHECK(j["tls"]["ferry_snapshot_plain"]["equal"] == true);
  CHECK(j["incremental"]["equal_after"] == true);
  CHECK(j["incremental"]["ferry_lag_ms"]["samples"].get<long long>() >= 1);
  CHECK(j["incremental"]["native_lag_ms"]["samples"].get<long long>() >= 1);
}

TEST_CASE("bench: the copies into a 3-master cluster and from clusters of 1, 3 and 6 shards equal the source",
          "[bench][cluster]") {
  std::string report = "/tmp/ferry-bench-cluster-test-" + std::to_string(::getpid()) + ".json";
  auto r = run_ferry({"bench", "--dataset", "small-strings", "--keys", "5000", "--runs", "1", "--load-requests", "20000",
                      "--skip", "scan", "--skip", "verify", "--skip", "aof", "--skip", "tls", "--report", report});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto j = ferry::test::read_json(report);
  std::remove(report.c_str());
  CHECK(j["cluster"]["masters"] == 3);
  CHECK(j["cluster"]["ferry_snapshot"]["equal"] == true);
  CHECK(j["cluster"]["ratio_to_standalone_snapshot"].get<double>() > 0);
  CHECK(j["cluster"]["all_masters_busy_share"].is_number());
  CHECK(j["cluster"]["sync"]["equal_after"] == true);
  CHECK(j["cluster"]["sync"]["lag_ms"]["samples"].get<long long>() >= 1);
  // A cluster source of 1, 3 and 6 shards, copied by snapshot and by scan.
  REQUIRE(j["source_shards"].size() == 3);
  for (const auto& row : j["source_shards"]) {
    INFO(row.dump());
    CHECK(row["keys"].get<long long>() >= 4990);
    CHECK(row["snapshot"]["equal"] == true);
    CHECK(row["scan"]["equal"] == true);
  }
}
