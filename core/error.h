// Typed errors carrying where they happened (file, line or field) and what was
// being done when they travelled upwards. One catch in main() prints them.
#pragma once

#include <stdexcept>
#include <string>

namespace emkit {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Reading or writing a file failed (missing, truncated, malformed).
class IoError : public Error {
 public:
  using Error::Error;
};

// A value given by the user (option, STAR field, image content) is invalid.
class InvalidInputError : public Error {
 public:
  using Error::Error;
};

// A broken internal invariant: a bug in emkit, not in the input.
class InternalError : public Error {
 public:
  using Error::Error;
};

// "path:line: message" (line omitted when <= 0).
std::string Where(const std::string& path, long line = 0);

// Re-throws the current exception with "while <context>: " prepended, keeping its type.
[[noreturn]] void RethrowWithContext(const std::string& context);

}  // namespace emkit

#define EMKIT_CHECK(cond, msg)                                                              \
  do {                                                                                      \
    if (!(cond))                                                                            \
      throw ::emkit::InternalError(std::string(__FILE__) + ":" + std::to_string(__LINE__) + \
                                   ": check failed: " #cond ": " + (msg));                  \
  } while (0)
