// The table of subcommands. Each lives in its own apps/<name>_command.cc.
#include "apps/command_line.h"

namespace emkit {

int RunInfo(int argc, char** argv);

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"info", "Summarise MRC, STAR and micrograph image files", &RunInfo},
  };
  return commands;
}

}  // namespace emkit
