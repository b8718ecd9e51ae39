#include "fuzz_command.h"

#include "applier/applier_properties.h"
#include "common_options.h"
#include "core/error.h"

#include <fmt/format.h>

#include <iostream>
#include <memory>

namespace ferry::cli {
namespace {

struct FuzzApplierOptions {
  int cases = 100;
  std::string seed = "random";
  std::string property = "all";
  int max_size = 100;
  std::string ferry;
};

int run_applier(const FuzzApplierOptions& o) {
  fuzz::PropertyRun run;
  run.cases = o.cases;
  run.max_size = o.max_size;
  run.ferry_binary = o.ferry.empty() ? self_path() : o.ferry;
  if (o.seed == "random") {
    run.seed = random_seed();
  } else {
    try {
      run.seed = std::stoull(o.seed);
    } catch (const std::exception&) {
      throw FerryError(ExitCode::Usage, fmt::format("--seed: '{}' is neither a number nor 'random'", o.seed));
    }
  }
  bool passed = true;
  auto one = [&](const std::string& name, fuzz::PropertyOutcome (*check)(const fuzz::PropertyRun&)) {
    run.reproduce = fmt::format("{} fuzz applier --property {} --cases {} --seed {} --max-size {}", run.ferry_binary, name,
                                o.cases, run.seed, o.max_size);
    std::cout << fmt::format("property {} (seed {}, {} cases) ...\n", name, run.seed, o.cases) << std::flush;
    auto outcome = check(run);
    if (outcome.passed) {
      std::cout << fmt::format("property {}: {} cases passed in {:.1f} s ({:.0f} cases/s)\n", name, outcome.cases,
                               outcome.seconds, outcome.cases / std::max(outcome.seconds, 1e-9));
    } else {
      passed = false;
      std::cout << fmt::format("property {}: FAILED after {} passing cases, {:.1f} s\n{}", name, outcome.cases,
                               outcome.seconds, outcome.message);
    }
  };
  if (o.property == "in-process" || o.property == "all") one("in-process", fuzz::check_applier_in_process);
  if (o.property == "servers" || o.property == "all") one("servers", fuzz::check_applier_with_servers);
  return passed ? 0 : static_cast<int>(ExitCode::Failed);
}

}  // namespace

void add_fuzz_command(CLI::App& app, std::function<int()>& run) {
  auto* fuzz = app.add_subcommand("fuzz", "Property-based fuzzing of the replication applier");
  fuzz->require_subcommand(1);
  auto o = std::make_shared<FuzzApplierOptions>();
  auto* applier = fuzz->add_subcommand(
      "applier", "Check the replication applier's properties on generated cases; a failure is shrunk and printed "
                 "with the command that reproduces it (exit 1)");
  applier->add_option("--cases", o->cases, "Cases per property")->capture_default_str()->check(CLI::PositiveNumber);
  applier->add_option("--seed", o->seed, "RapidCheck seed: N, or random (printed)")->capture_default_str();
  applier->add_option("--property", o->property,
                      "in-process (the applier against a recording target and its rules: DB selection and mapping, "
                      "filters, TTL extension, heartbeat, transactions, offsets and state-file points; no server), "
                      "servers (real source and target redis-server, the real `ferry migrate --mode sync`, generated "
                      "snapshot point and link cuts; target equals source after catch-up), or all")
      ->capture_default_str()
      ->check(CLI::IsMember({"in-process", "servers", "all"}));
  applier->add_option("--max-size", o->max_size, "Largest generated size (stream length grows with it)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  applier->add_option("--ferry", o->ferry, "The ferry binary the servers property runs (default: this one)");
  applier->callback([&run, o] { run = [o] { return run_applier(*o); }; });
}

}  // namespace ferry::cli
