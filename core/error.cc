#include "core/error.h"

#include <exception>

namespace emkit {

std::string Where(const std::string& path, long line) { return line > 0 ? path + ":" + std::to_string(line) : path; }

void RethrowWithContext(const std::string& context) {
  try {
    throw;
  } catch (const IoError& e) {
    throw IoError("while " + context + ": " + e.what());
  } catch (const InvalidInputError& e) {
    throw InvalidInputError("while " + context + ": " + e.what());
  } catch (const InternalError& e) {
    throw InternalError("while " + context + ": " + e.what());
  } catch (const std::exception& e) {
    throw Error("while " + context + ": " + e.what());
  }
}

}  // namespace emkit
