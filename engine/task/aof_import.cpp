#include "task/aof_import.h"

#include "aof/aof_reader.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/throttle.h"
#include "io/byte_source.h"
#include "rdb/rdb_parser.h"
#include "sink/command_sink.h"
#include "sink/key_sink.h"
#include "target/target_keys.h"

#include <fmt/format.h>

#include <chrono>

namespace ferry {

nlohmann::json AofImportResult::to_json() const {
  nlohmann::json j = facts.to_json();
  j["applied_bytes"] = applied_bytes;
  j["expiry_clock"] = expiry_clock.empty() ? nlohmann::json() : nlohmann::json(expiry_clock);
  return j;
}

int run_aof_import(const TaskConfig& config, std::shared_ptr<const AofFacts> checked, Target& target, Progress* progress,
                   const std::atomic<bool>* stop, MigrationReport& report, AofImportResult& result) {
  const auto started = std::chrono::steady_clock::now();
  CopyOptions copy = config.copy_options();

  // Every file whole first (by the precheck, with the same options): what redis-server would
  // refuse writes nothing.
  if (checked) {
    result.facts = *checked;
  } else {
    AofCheckOptions check;
    if (config.aof_until) check.until = config.aof_until;
    check.work_dir = config.work_dir();
    result.facts = check_aof(aof::resolve_aof_path(config.aof_path), check);
  }
  const AofFacts& facts = result.facts;
  const aof::AofLayout& layout = facts.layout;
  log::info("checked {} whole in {:.2f} s: {} file(s), {} bytes, {} commands{}", layout.describe(), facts.seconds,
            facts.files.size(), facts.total_size(), facts.commands(),
            facts.cut ? fmt::format("; --aof-until stops at offset {} of {}", facts.cut->offset,
                                    facts.files[facts.cut->file].part.name)
                      : "");
  for (const auto& f : facts.files)
    if (f.rdb) require_modules(*f.rdb, f.part.path, target.facts(), target.describe(), copy.skip_unsupported);
  for (const auto& w : facts.warnings()) {
    log::warn("{}", w);
    report.warnings.push_back(w);
  }
  if (facts.cut) log::info("--aof-until: {}", facts.files[facts.cut->file].dropped);

  report.mode = "aof";
  report.source = layout.describe();
  report.target = target.describe();
  copy.describe_into(report);
  check_target_empty(target, copy, copy.dbs);

  Throttle throttle(config.max_ops, config.max_bytes);
  StreamOptions so = StreamOptions::from(copy);
  so.block_flush = config.block_flush;
  so.relative_expiries = true;  // whatever wrote the file: EXPIRE & co. count from when they run
  so.publish = config.publish;
  so.cross_slot = config.cross_slot == "split" ? CrossSlot::Split : CrossSlot::Stop;
  long long file_time_ms = 0;  // the last #TS: annotation read
  uint64_t relative = 0;
  CommandSink commands(target, so, report, result.stream, [&] {
    ++relative;
    return file_time_ms ? file_time_ms : unix_ms();
  });

  const uint64_t total = facts.total_size();
  auto report_progress = [&](uint64_t offset) {
    if (!progress) return;
    PartStatus s = PartStatus::copy("aof", offset, total, "bytes", report.bytes);
    s.commands = result.stream.commands;
    s.report = &report;
    s.stream = &result.stream;
    progress->update(s);
  };
  uint64_t before = 0;  // bytes of the files before the current one
  int code = 0;
  try {
    for (const auto& f : facts.files) {
      const std::string name = layout.manifest.empty() ? f.part.path : f.part.name;
      if (f.rdb) {
        KeySinkOptions ko;
        ko.copy = copy;
        ko.throttle = &throttle;
        ko.rdb_preamble = true;
        ko.progress = [&, keys = uint64_t{0}](uint64_t offset) mutable {
          if (++keys % kKeysPerReport == 0) report_progress(before + offset);
        };
        KeySink keys(target, ko, report);
        io::FileSource file(f.part.path);
        rdb::RdbParser parser(file, keys.input());
        parser.parse();
        keys.finish();
        if (keys.fatal()) throw FerryError(ExitCode::Failed, *keys.fatal());
      }
      commands.set_stream_db(0);  // each file starts in DB 0, as redis-server loads it
      if (f.apply_end > f.commands_from) {
        aof::AofCommandStream stream(f.part.path, f.commands_from, name);
        aof::AofItem item;
        uint64_t n = 0;
        while (stream.next(item) && item.offset < f.apply_end) {
          if (item.kind == aof::AofItem::Kind::Timestamp && item.timestamp < (1LL << 40))  // no overflow below
            file_time_ms = item.timestamp * 1000;
          if (item.kind != aof::AofItem::Kind::Command) continue;
          throttle.account(item.end - item.offset);
          commands.apply(item.args, static_cast<long long>(before + item.end));
          result.applied_bytes = before + item.end;
          if (++n % 4096 == 0) {
            if (stop && stop->load()) throw FerryError(ExitCode::Failed, "stopped by a signal before the end of the AOF");
            report_progress(before + item.end);
          }
        }
        commands.discard_open_transaction();  // apply_end never splits one; a changed file might
      }
      commands.flush();
      before += f.size;
    }
  } catch (const rdb::RdbError& e) {  // the file changed since it was checked
    report.stopped_because = e.what();
    code = static_cast<int>(ExitCode::CorruptInput);
  } catch (const aof::AofError& e) {
    report.stopped_because = e.what();
    code = static_cast<int>(ExitCode::CorruptInput);
  } catch (const FerryError& e) {
    report.stopped_because = e.what();
  }
  try {
    commands.flush();
  } catch (const FerryError& e) {
    if (report.stopped_because.empty()) report.stopped_because = e.what();
  }
  if (relative) {
    bool annotated = false;
    for (const auto& f : facts.files) annotated = annotated || f.first_ts;
    result.expiry_clock = annotated ? "#TS: annotations (import time before the first)" : "import time (no #TS: annotations)";
    log::info("{} relative expiries (EXPIRE, SET ... EX and the like) made absolute at the {}", relative, result.expiry_clock);
  }
  if (progress) progress->done();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return code;
}

}  // namespace ferry
