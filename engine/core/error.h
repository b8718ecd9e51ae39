// The project's one exit-code table and the error type that carries a code up to main.
#pragma once

#include <stdexcept>
#include <string>

namespace ferry {

// Every subcommand exits with one of these. Documented in `ferry --help` and the README.
enum class ExitCode : int {
  Ok = 0,             // success
  Failed = 1,         // the job failed or found a problem (incomplete, divergence, failed check)
  Warnings = 2,       // finished with warnings only
  Usage = 3,          // usage or configuration error, including command-line parse errors
  Connection = 4,     // cannot connect to or authenticate with a server
  CorruptInput = 5,   // corrupt or unreadable input file
};

inline const char* exit_code_table() {
  return "Exit codes (every subcommand):\n"
         "  0  success\n"
         "  1  the job failed or found a problem (migration incomplete, divergence, a failed check)\n"
         "  2  warnings only\n"
         "  3  usage or configuration error (including command-line parse errors)\n"
         "  4  cannot connect or authenticate\n"
         "  5  corrupt or unreadable input file\n";
}

// A fatal error: the message says what and where; the code is what the process exits with.
class FerryError : public std::runtime_error {
 public:
  FerryError(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

}  // namespace ferry
