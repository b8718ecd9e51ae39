// ferry --mode sync through the fault proxy: the link reset in the middle of the snapshot and
// again mid-stream, slowed and sliced, under a write load of every command; the target must end
// equal to the source, key by key and by DEBUG DIGEST.
#include "proxy/fault_proxy.h"
#include "support.h"
#include "workload/command_workload.h"

#include <random>
#include <thread>

using namespace ferry;
using ferry::sim::FaultProxy;
using ferry::sim::RedisServer;
using ferry::test::BackgroundFerry;

TEST_CASE("resets mid-snapshot and mid-stream, latency and slicing through the proxy: the target ends equal", "[repl][proxy]") {
  RedisServer src, dst;
  auto s = test::connect(src);
  {
    std::mt19937_64 rng(11);  // about 4 MB that LZF cannot shrink
    Pipeline pipe(*s);
    for (int i = 0; i < 4000; ++i) {
      std::string v(1000, ' ');
      for (auto& ch : v) ch = static_cast<char>('!' + rng() % 90);
      pipe.send({"SET", "bulk:" + std::to_string(i), v});
    }
  }
  FaultProxy proxy("127.0.0.1", src.port());
  proxy.add("reset:after-psync-bytes=1500000");  // the first snapshot is cut in the middle
  std::string report = dst.dir() + "/r.json";
  BackgroundFerry ferry({"migrate", "--mode", "sync", "--source", proxy.uri(), "--target", dst.uri(), "--no-heartbeat",
                         "--report", report});
  test::wait_for_replica(*s, 60);
  CHECK(proxy.stats().resets == 1);

  sim::CommandWorkload load(*s, 33);
  for (int i = 0; i < 3; ++i) load.round();
  proxy.add("reset");  // mid-stream: ferry resumes by partial resync
  for (int i = 0; i < 3; ++i) load.round();
  int slow = proxy.add("latency:ms=30,jitter=10");
  int sliced = proxy.add("slicer:size=7,dir=down");
  for (int i = 0; i < 3; ++i) load.round();
  proxy.add("reset:after-bytes=2000,dir=down");  // a reset inside the stream bytes, once
  for (int i = 0; i < 3; ++i) load.round();
  proxy.remove(slow);
  proxy.remove(sliced);

  auto d = test::connect(dst);
  test::check_converges(*s, *d, 60);
  CHECK(proxy.stats().resets >= 3);
  auto r = ferry.stop();
  CHECK(r.exit_code == 0);
  auto j = test::read_json(report);
  CHECK(j["partial_resyncs"].get<long long>() >= 1);
  CHECK(j["stream"]["errors"] == 0);
  WARN("proxy: " << proxy.stats().connections << " connections, " << proxy.stats().resets << " resets; ferry: "
                 << j["retries"] << " retries, " << j["partial_resyncs"] << " partial resyncs, " << j["full_resyncs"]
                 << " full resyncs");
}
