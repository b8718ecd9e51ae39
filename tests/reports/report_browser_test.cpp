// The scenario report as a person sees it: a real scenario run, its report.html opened in headless
// Chromium (Debian's package, installed by tools/test). The rendered page must have run its script
// without an error, show every section with its charts and tables, link files that exist, and
// render to a screenshot.
#include "support.h"

#include <fmt/format.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

using namespace ferry;
namespace fs = std::filesystem;

namespace {

std::optional<std::string> chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (::access(p, X_OK) == 0) return std::string(p);
  return std::nullopt;
}

// Runs headless Chromium as the probe of this machine does (no network, a fresh profile).
std::string run_chromium(const std::string& binary, const std::string& profile, const std::string& args) {
  std::string cmd = fmt::format(
      "timeout 90 '{}' --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
      "--disable-background-networking --disable-component-update --disable-sync --hide-scrollbars "
      "--user-data-dir='{}' {} 2>/dev/null",
      binary, profile, args);
  std::string out;
  if (std::FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("the scenario report renders in a real browser with every section and no script error", "[reports][browser]") {
  auto browser = chromium();
  if (!browser) {
    WARN("skipped: chromium is not installed (tools/test installs it)");
    return;
  }
  sim::RedisServer scratch;  // a directory that goes away with the test
  const std::string dir = scratch.dir() + "/report";
  auto run = test::run_ferry({"scenario", "run", std::string(FERRY_SOURCE_DIR) + "/scenarios/smoke/expiring-keys.toml",
                              std::string(FERRY_SOURCE_DIR) + "/scenarios/smoke/sync-under-faults.toml", "--report-dir", dir});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  const std::string page = dir + "/report.html";
  REQUIRE(fs::exists(page));

  const std::string dom = run_chromium(*browser, scratch.dir() + "/profile", "--dump-dom file://" + page);
  REQUIRE(!dom.empty());
  CHECK(dom.find(R"(data-ready="1")") != std::string::npos);  // the page's script ran to its end
  CHECK(dom.find(R"(data-errors="0")") != std::string::npos);
  CHECK(dom.find("data-errors=\"1") == std::string::npos);
  CHECK(dom.find(R"(id="summary")") != std::string::npos);
  CHECK(dom.find(R"(id="overview")") != std::string::npos);
  CHECK(count(dom, R"(class="scenario")") == 2);
  CHECK(count(dom, R"(<g class="chart")") == 8);  // ops/s, lag ms, lag bytes, target memory per scenario
  for (const char* unit : {"(ops/s)", "(ms)", "(bytes)", "(MB)"}) CHECK(dom.find(unit) != std::string::npos);
  CHECK(count(dom, R"(class="migration")") == 2);
  CHECK(count(dom, R"(class="validation")") == 2);
  CHECK(count(dom, R"(class="repro")") == 2);
  CHECK(dom.find("p99") != std::string::npos);
  CHECK(dom.find("rendered 2 scenario section(s), 8 charts") != std::string::npos);
  CHECK(dom.find("ferry 0.") != std::string::npos);  // the version that ran
  // Every file link points at a file of the run.
  std::regex link(R"re(<a href="([^"#][^"]*)")re");
  size_t links = 0;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), link); it != std::sregex_iterator(); ++it) {
    ++links;
    INFO((*it)[1].str());
    CHECK(fs::exists(fs::path(dir) / (*it)[1].str()));
  }
  CHECK(links >= 8);

  const std::string shot = dir + "/report.png";
  run_chromium(*browser, scratch.dir() + "/profile", fmt::format("--window-size=1100,2400 --screenshot={} file://{}", shot, page));
  REQUIRE(fs::exists(shot));
  CHECK(fs::file_size(shot) > 30000);  // a rendered page, not a blank one

  // A second run into the same directory keeps the first run's reports: it goes to a sub-folder.
  auto again = test::run_ferry({"scenario", "run", std::string(FERRY_SOURCE_DIR) + "/scenarios/smoke/expiring-keys.toml",
                                "--report-dir", dir});
  CHECK(again.exit_code == 0);
  CHECK_THAT(again.err, Catch::Contains("holds another run's reports"));
  CHECK(fs::exists(page));
  CHECK(count(std::string(std::istreambuf_iterator<char>(std::ifstream(page).rdbuf()), {}), R"(class="scenario")") == 2);
}
