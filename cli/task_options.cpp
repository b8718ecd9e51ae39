#include "task_options.h"

#include "core/error.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace ferry::cli {

std::set<std::string> endpoint_keys(const std::string& side) {
  std::set<std::string> out;
  for (const char* key : {"uri", "password-file", "tls", "tls-ca", "tls-cert", "tls-key", "tls-server-name", "tls-insecure"})
    out.insert(side + "." + key);
  return out;
}

void TaskFlags::add_to(CLI::App& app, const std::set<std::string>& only, bool with_config) {
  if (with_config)
    app.add_option("--config", config_file_,
                   "TOML task file with the options below (see `ferry config example`); flags given here override it");
  const TaskConfig defaults;
  for (const auto& s : task_settings()) {
    if (!*s.flag || (!only.empty() && !only.count(s.qualified()))) continue;
    std::string help = s.help;
    std::string shown = s.show ? s.show(defaults) : "";
    CLI::Option* opt = nullptr;
    switch (s.kind) {
      case SettingKind::Bool: opt = app.add_flag(s.flag, bools_[s.qualified()], help); break;
      case SettingKind::IntList:
        opt = app.add_option(s.flag, lists_[s.qualified()], help)->delimiter(',')->type_name("LIST");
        break;
      case SettingKind::StringList: opt = app.add_option(s.flag, lists_[s.qualified()], help)->type_name("TEXT ..."); break;
      default:
        if (!shown.empty()) help += fmt::format(" (default: {})", shown);
        opt = app.add_option(s.flag, scalars_[s.qualified()], help);
        if (s.kind == SettingKind::Choice) opt->type_name(fmt::format("{{{}}}", fmt::join(s.choices, ",")));
        else if (s.kind == SettingKind::Size) opt->type_name("SIZE");
        else if (s.kind == SettingKind::Integer || s.kind == SettingKind::Number) opt->type_name("NUMBER");
    }
    registered_.push_back({&s, opt});
  }
}

TaskConfig TaskFlags::resolve(bool check) const {
  TaskConfig config;
  std::set<std::string> given;
  for (const auto& r : registered_)
    if (r.option->count() > 0) given.insert(r.setting->qualified());
  if (!config_file_.empty()) throw_config_problems(config_file_, read_task_file(config_file_, config, given));
  for (const auto& r : registered_) {
    const std::string key = r.setting->qualified();
    if (!given.count(key)) continue;
    std::vector<std::string> values;
    switch (r.setting->kind) {
      case SettingKind::Bool: values = {r.setting->flag_inverts ? "false" : "true"}; break;
      case SettingKind::IntList:
      case SettingKind::StringList: values = lists_.at(key); break;
      default: values = {scalars_.at(key)};
    }
    try {
      r.setting->set(config, values);
    } catch (const FerryError& e) {
      throw FerryError(ExitCode::Usage, fmt::format("{}: {}", r.setting->flag, e.what()));
    }
  }
  if (check) config.check();
  return config;
}

}  // namespace ferry::cli
