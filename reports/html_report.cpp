#include "reports/html_escape.h"
#include "reports/run_report.h"
#include "reports/timeline_charts.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace ferry::reports {
namespace {

namespace fs = std::filesystem;

const char* kStyle = R"(body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1000px}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.pass{color:#1e8449;font-weight:bold}.fail{color:#c0392b;font-weight:bold}.skip{color:#7f8c8d;font-weight:bold}
code{background:#f5f5f5;padding:1px 4px;word-break:break-all}section.scenario{margin-top:2.5em;border-top:1px solid #ccc;padding-top:1em}
.small{font-size:90%;color:#555}.files a{margin-right:1em}tr.more{display:none}tr.more.shown{display:table-row}
button{font-size:90%;margin:.3em 0})";

// The page's only script: counts errors (the checks read data-errors) and shows more samples on demand.
const char* kHeadScript = R"(<script>window.ferryErrors=0;window.addEventListener('error',function(){window.ferryErrors++;
document.documentElement.setAttribute('data-errors',String(window.ferryErrors));});</script>)";
const char* kTailScript = R"(<script>document.querySelectorAll('button.more').forEach(function(b){b.addEventListener('click',function(){
b.parentElement.querySelectorAll('tr.more').forEach(function(r){r.classList.toggle('shown');});});});
var n=document.querySelectorAll('section.scenario').length;document.getElementById('rendered').textContent=
'rendered '+n+' scenario section(s), '+document.querySelectorAll('g.chart').length+' charts';
document.body.setAttribute('data-errors',String(window.ferryErrors));document.body.setAttribute('data-ready','1');</script>)";

long long number(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<long long>() : 0;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(std::min<double>(v.size() - 1, std::floor(p * (v.size() - 1) + 0.5)))];
}

std::string status_cell(const sim::ScenarioResult& r) {
  if (!r.skipped.empty()) return R"(<span class="skip">skipped</span>)";
  return r.passed ? R"(<span class="pass">passed</span>)" : R"(<span class="fail">FAILED</span>)";
}

// Links to the run's own files, relative to the report (those that exist).
std::string file_links(const sim::ScenarioResult& r, const std::string& report_dir) {
  const std::pair<const char*, const char*> files[] = {
      {"ferry.log", "ferry log"}, {"task.toml", "task file"}, {"task-report.json", "task report"},
      {"verify.json", "validation"}, {"ops.jsonl", "op log"},    {"ferry-1.err", "ferry stderr"}};
  std::string out;
  for (const auto& [name, label] : files) {
    fs::path p = fs::path(r.out_dir) / name;
    if (!fs::exists(p)) continue;
    std::error_code ec;
    std::string href = fs::relative(p, report_dir, ec).string();
    if (ec || href.empty()) href = p.string();
    out += fmt::format(R"(<a href="{}">{}</a>)", escape(href), label);
  }
  return out.empty() ? "no files kept" : out;
}

std::string charts(const sim::ScenarioResult& r) {
  std::vector<Series> series{{"source writes", "ops/s", "#2a6fdb", {}},
                             {"lag", "ms", "#e67e22", {}},
                             {"lag", "bytes", "#b9770e", {}},
                             {"target memory", "MB", "#7f8c8d", {}}};
  double t_min = 0, t_max = 1;
  for (const auto& s : r.samples) {
    t_min = std::min(t_min, s.t);
    t_max = std::max(t_max, s.t);
    series[0].points.emplace_back(s.t, s.ops_per_sec);
    series[1].points.emplace_back(s.t, s.lag_ms);
    series[2].points.emplace_back(s.t, static_cast<double>(s.lag_bytes));
    series[3].points.emplace_back(s.t, s.target_memory / 1e6);
  }
  for (const auto& e : r.timeline) t_max = std::max(t_max, e.at_ms / 1000.0);
  return timeline_charts(series, r.timeline, t_min, t_max);
}

// What the migration itself reported, with the lag percentiles of the run's samples.
std::string migration_table(const sim::ScenarioResult& r) {
  const auto& t = r.task_report;
  std::vector<double> lags;
  for (const auto& s : r.samples)
    if (s.lag_ms >= 0) lags.push_back(s.lag_ms);
  auto ms = [](double v) { return v < 0 ? std::string("-") : fmt::format("{:.0f} ms", v); };
  std::string h = R"(<table class="migration"><tr><th colspan="2">migration</th></tr>)";
  auto row = [&](const std::string& k, const std::string& v) { h += fmt::format("<tr><td>{}</td><td>{}</td></tr>", k, v); };
  if (t.is_object()) {
    row("mode, outcome", fmt::format("{}, {}", escape(t.value("mode", "?")), t.value("complete", false) ? "complete" : "incomplete"));
    row("keys", fmt::format("{} copied ({} chunked), {} failed, {} skipped as expired, {} filtered", number(t, "copied"),
                            number(t, "copied_chunked"), number(t, "failed"), number(t, "skipped_expired"), number(t, "filtered")));
    if (t.contains("stream")) {
      const auto& s = t["stream"];
      row("stream", fmt::format("{} commands ({} transactions), {} errors, {} unapplied, {} unconfirmed scripts",
                                number(s, "commands"), number(s, "transactions"), number(s, "errors"), number(s, "unapplied"),
                                number(s, "unconfirmed_scripts")));
      row("resyncs", fmt::format("{} partial, {} full, {} reconnection attempts", number(t, "partial_resyncs"),
                                 number(t, "full_resyncs"), number(t, "retries")));
    }
    if (t.contains("stopped_because")) row("stopped because", escape(t["stopped_because"].get<std::string>()));
  } else {
    row("task report", "none written");
  }
  row("lag over the run", fmt::format("p50 {}, p99 {}, max {} ({} samples)", ms(percentile(lags, 0.5)),
                                      ms(percentile(lags, 0.99)), ms(percentile(lags, 1.0)), lags.size()));
  return h + "</table>";
}

std::string validation(const sim::ScenarioResult& r) {
  if (r.verify_report.is_null()) return "<p class=\"validation\">Not validated.</p>";
  const auto& s = r.verify_report["summary"];
  std::string h = fmt::format(R"(<table class="validation"><tr><th colspan="2">validation: {} keys compared, {} divergences, )"
                              R"(rounds {}</th></tr>)",
                              s["keys_compared"].dump(), s["divergences"].dump(), escape(s["differing_per_round"].dump()));
  for (const auto& [cause, n] : s["by_cause"].items())
    if (n.get<long long>() > 0) h += fmt::format("<tr><td>{}</td><td>{}</td></tr>", escape(cause), n.dump());
  h += "</table>";
  const auto& samples = r.verify_report["divergences"];
  if (samples.empty()) return h;
  h += R"(<div class="samples"><table><tr><th>cause</th><th>DB</th><th>key</th><th>type</th><th>detail</th></tr>)";
  size_t shown = 0;
  for (const auto& d : samples) {
    if (shown++ == 200) break;
    h += fmt::format(R"(<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>)", shown > 10 ? R"( class="more")" : "",
                     escape(d["cause"].get<std::string>()), d["db"].dump(), escape(d["key"].get<std::string>()),
                     escape(d["type"].get<std::string>()), escape(d["detail"].get<std::string>()));
  }
  h += "</table>";
  if (samples.size() > 10)
    h += fmt::format(R"(<button class="more">show or hide {} more</button>)", std::min<size_t>(samples.size(), 200) - 10);
  return h + "</div>";
}

}  // namespace

void write_html(const std::string& path, const RunInfo& info, const std::vector<sim::ScenarioResult>& results) {
  const std::string report_dir = fs::path(path).parent_path().string();
  size_t passed = std::count_if(results.begin(), results.end(), [](const auto& r) { return r.passed; });
  std::string h = fmt::format(R"(<!DOCTYPE html><html lang="en" data-errors="0"><head><meta charset="utf-8">)"
                              R"(<title>ferry scenario report</title>{}<style>{}</style></head><body>)",
                              kHeadScript, kStyle);
  h += fmt::format(R"(<header id="summary"><h1>ferry scenario report</h1><p>{} of {} scenario runs passed &middot; started {} )"
                   R"(&middot; {:.1f} s &middot; {}</p><p class="small">run with <code>{}</code></p></header>)",
                   passed, results.size(), escape(info.started_at), info.seconds, escape(info.ferry_version),
                   escape(info.command));
  h += R"(<table id="overview"><tr><th>scenario</th><th>result</th><th>seed</th><th>time</th><th>ferry exit</th>)"
       R"(<th>commands written</th><th>divergences by cause</th></tr>)";
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    h += fmt::format(R"(<tr><td><a href="#s{}">{}</a></td><td>{}</td><td>{}</td><td>{:.1f} s</td><td>{}</td><td>{}</td><td>{}</td></tr>)",
                     i, escape(r.name), status_cell(r), r.seed, r.seconds, r.ferry_exit, number(r.load, "commands"),
                     escape(cause_counts(r)));
  }
  h += "</table>";
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    h += fmt::format(R"(<section class="scenario" id="s{}" data-name="{}"><h2>{} {}</h2>)", i, escape(r.name), escape(r.name),
                     status_cell(r));
    h += fmt::format(R"(<p class="small">{} &middot; seed {} &middot; {}</p><p class="files small">files: {}</p>)",
                     escape(r.file), r.seed, escape(r.ferry_version.empty() ? info.ferry_version : r.ferry_version),
                     file_links(r, report_dir));
    h += fmt::format(R"(<p class="repro">Reproduce: <code>{}</code></p>)", escape(r.repro));
    if (!r.description.empty()) h += "<p>" + escape(r.description) + "</p>";
    if (!r.skipped.empty()) h += "<p class=\"skip\">" + escape(r.skipped) + "</p>";
    if (!r.failures.empty()) {
      h += "<ul class=\"failures\">";
      for (const auto& f : r.failures) h += "<li class=\"fail\">" + escape(f) + "</li>";
      h += "</ul>";
    }
    h += R"(<div class="charts">)" + charts(r) + "</div>";
    h += migration_table(r);
    h += validation(r);
    h += "</section>";
  }
  h += R"(<footer class="small" id="rendered">the page script did not run</footer>)";
  h += kTailScript;
  h += "</body></html>\n";
  open_for_writing(path) << h;
}

}  // namespace ferry::reports
