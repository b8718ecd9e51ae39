#include "task/preflight.h"

#include <fmt/format.h>

namespace ferry {

PreflightResult preflight_checks(Connection* source, Connection& target) {
  PreflightResult out;
  auto target_mem = target.info("memory");
  auto target_repl = target.info("replication");

  if (target_repl["role"] == "slave")
    out.failures.push_back(fmt::format("{} is a replica (read-only): point --target at a master", target.describe()));

  const std::string& policy = target_mem["maxmemory_policy"];
  if (!policy.empty() && policy != "noeviction")
    out.warnings.push_back(fmt::format("{} has maxmemory-policy {}: when it fills up it evicts keys silently; "
                                       "set it to noeviction for the migration",
                                       target.describe(), policy));

  long long maxmemory = std::atoll(target_mem["maxmemory"].c_str());
  long long target_used = std::atoll(target_mem["used_memory"].c_str());
  if (!source) return out;
  long long source_used = std::atoll(source->info("memory")["used_memory"].c_str());
  if (maxmemory > 0 && static_cast<double>(maxmemory - target_used) < 1.1 * static_cast<double>(source_used))
    out.warnings.push_back(fmt::format("{} has {:.1f} MB free under maxmemory, less than 1.1 x the source's used "
                                       "memory ({:.1f} MB): it may run out of memory",
                                       target.describe(), (maxmemory - target_used) / 1e6, source_used / 1e6));

  if (source->version() < 70000)
    out.warnings.push_back(fmt::format("{} is Redis {} (< 7.0): expiries are read with PTTL, so an absolute expiry may "
                                       "be off by the round-trip time",
                                       source->describe(), source->version_string()));
  if (target.version() < source->version())
    out.warnings.push_back(fmt::format("{} runs {} and the source {}: DUMP payloads it cannot read are written with "
                                       "native commands instead",
                                       target.describe(), target.version_string(), source->version_string()));
  return out;
}

}  // namespace ferry
