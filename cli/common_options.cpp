#include "common_options.h"

#include "task/run_task.h"
#include "task_options.h"
#include "core/error.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <filesystem>
#include <random>

namespace ferry::cli {

namespace {
CLI::Validator number_at_least(double least, const char* what) {
  return CLI::Validator(
      [least, what](std::string& value) -> std::string {
        char* end = nullptr;
        double v = std::strtod(value.c_str(), &end);
        if (value.empty() || *end) return "'" + value + "' is not a number";
        if (v < least) return "'" + value + "' must be " + what;
        return {};
      },
      what);
}
}  // namespace

const CLI::Validator& non_negative() {
  static const CLI::Validator v = number_at_least(0, "0 or more");
  return v;
}

const CLI::Validator& positive() {
  static const CLI::Validator v = number_at_least(1e-9, "more than 0");
  return v;
}

std::string self_path() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "build/ferry" : p.string();
}

uint64_t random_seed() {
  std::random_device rd;
  return rd() | (static_cast<uint64_t>(rd()) << 32);
}

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The deepest subcommand the command line selected.
const CLI::App* selected(const CLI::App& app) {
  const CLI::App* at = &app;
  for (bool deeper = true; deeper;) {
    deeper = false;
    for (const CLI::App* sub : at->get_subcommands())
      if (sub->parsed()) {
        at = sub;
        deeper = true;
        break;
      }
  }
  return at;
}

}  // namespace

void add_examples(CLI::App& app) {
  static const std::map<std::string, std::string> examples{
      {"migrate",
       "  ferry migrate --source redis://10.0.0.5:6379 --target redis://10.0.0.9:6379 --db 0,5 --report m.json\n"
       "  ferry migrate --mode sync --until-caught-up --source redis://src:6379 --target redis://dst:6379 --state s.json\n"
       "  ferry migrate --mode aof --aof /var/lib/redis/appendonlydir --target redis://dst:6379 --aof-until 1767225600"},
      {"status", "  ferry status --metrics http://127.0.0.1:9121\n  ferry status --metrics 127.0.0.1:9121 --watch 2"},
      {"demo", "  ferry demo\n  ferry demo --keys-per-db 10000 --report-dir /tmp/demo"},
      {"rdb", "  ferry rdb inspect dump.rdb --json"},
      {"rdb inspect", "  ferry rdb inspect dump.rdb\n  ferry rdb inspect dump.rdb --json --top 20"},
      {"aof", "  ferry aof inspect /var/lib/redis/appendonlydir --json"},
      {"aof inspect", "  ferry aof inspect /var/lib/redis/appendonlydir\n  ferry aof inspect appendonly.aof --json"},
      {"precheck",
       "  ferry precheck --mode sync --source redis://src:6379 --target redis://dst:6379\n"
       "  ferry precheck --config task.toml --json"},
      {"config", "  ferry config example > task.toml\n  ferry config check task.toml"},
      {"check", "  ferry config check task.toml"},
      {"example", "  ferry config example > task.toml"},
      {"verify",
       "  ferry verify --source redis://src:6379 --target redis://dst:6379 --task-report m.json\n"
       "  ferry verify --config task.toml --rounds 5 --report v.json"},
      {"sim", "  ferry sim servers --replicas 1\n  ferry sim load --target redis://127.0.0.1:6380 --seed 7 --rate 1000 --duration 30"},
      {"servers", "  ferry sim servers --replicas 1 --version redis-6.0\n  ferry sim servers --cluster 3x1 --duration 600"},
      {"proxy", "  ferry sim proxy --to 127.0.0.1:6379 --listen 7000 --fault latency:ms=50 --fault reset:at=10000"},
      {"load", "  ferry sim load --target redis://127.0.0.1:6380 --seed 7 --rate 1000 --duration 30"},
      {"fill", "  ferry sim fill --target redis://127.0.0.1:6380 --keys 100000 --seed 1"},
      {"scenario", "  ferry scenario run scenarios/smoke\n  ferry scenario run scenarios/nightly/healthy-resets.toml --seed 42"},
      {"run", "  ferry scenario run scenarios/smoke --report-dir out"},
      {"fuzz", "  ferry fuzz applier --property in-process --cases 20000 --seed random"},
      {"applier", "  ferry fuzz applier --property all --cases 200"},
      {"bench", "  ferry bench --keys 1000000 --runs 3\n  ferry bench --dataset mixed --report bench.json"},
      {"matrix", "  ferry matrix --pairs 7.0:valkey-8.1 --modes sync\n  ferry matrix --report-dir matrix-out"},
  };
  std::vector<CLI::App*> todo = app.get_subcommands({});
  while (!todo.empty()) {
    CLI::App* sub = todo.back();
    todo.pop_back();
    auto it = examples.find(sub->get_parent() && sub->get_parent()->get_parent()
                                ? sub->get_parent()->get_name() + " " + sub->get_name()
                                : sub->get_name());
    if (it == examples.end()) it = examples.find(sub->get_name());
    sub->footer((it == examples.end() ? std::string() : "Examples:\n" + it->second + "\n\n") + exit_code_table());
    for (CLI::App* nested : sub->get_subcommands({})) todo.push_back(nested);
  }
  app.footer(exit_code_table());
}

std::string command_path(const CLI::App& app) {
  std::string path;
  for (const CLI::App* at = selected(app); at; at = at->get_parent()) path = at->get_name() + (path.empty() ? "" : " " + path);
  return path.empty() ? "ferry" : path;
}

std::vector<std::string> did_you_mean(const CLI::App& app, int argc, char** argv) {
  const CLI::App* at = selected(app);
  std::vector<std::string> names;
  for (const CLI::Option* opt : at->get_options())
    for (const auto& name : opt->get_lnames()) names.push_back("--" + name);
  for (const CLI::App* sub : at->get_subcommands({})) names.push_back(sub->get_name());
  std::vector<std::string> hints;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 && i > 1) continue;
    arg = arg.substr(0, arg.find('='));
    if (std::find(names.begin(), names.end(), arg) != names.end()) continue;
    std::string best;
    size_t best_distance = 3;
    for (const auto& n : names)
      if (size_t d = edit_distance(arg, n); d < best_distance) best_distance = d, best = n;
    if (!best.empty()) hints.push_back(fmt::format("'{}': did you mean {}?", arg, best));
  }
  return hints;
}

void LogFlags::add_to(CLI::App& app) {
  flags_ = std::make_shared<TaskFlags>();
  flags_->add_to(app, {"output.log-file", "output.log-level"}, false);
}

void LogFlags::apply() const { apply_logging(flags_->resolve(false)); }

}  // namespace ferry::cli
