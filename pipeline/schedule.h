// A schedule: the jobs of a workflow, in order, each an emkit command with its options, run
// into a project folder with one folder per job (Simulate/job001/, Pick/job002/, ...).
//
//   project = "demo_project"          # optional; `emkit pipeline -o` overrides
//   [[job]]
//   name = "sim"                      # optional (default job001, job002, ...)
//   type = "simulate micrographs"     # any emkit command, with its subcommand; or "external"
//   threads = 2                       # optional (default: the pipeline's --threads)
//   ranks = 1                         # > 1: run under mpirun
//   [job.options]                     # --name value; true = a flag; an array = several values;
//                                     # a quoted key with dashes is passed as written ("-c")
//   n = 6
//   [[job]]
//   type = "pick"
//   [job.options]
//   in = "{sim}/micrographs.star"     # {name}: the folder of an earlier job (a dependency)
//
// Paths are relative to the project folder (as in a RELION project). An emkit job's output is its
// folder (-o is added), unless its options give `out`, which is then a name inside the folder.
// An "external" job runs `command` with bash in the project folder ({out}: its folder, {emkit}:
// the emkit binary, $EMKIT_THREADS: its threads; other braces are left to the shell). `relion_job = "job.star"` takes
// type and options from a RELION job file.
#pragma once

#include <string>
#include <vector>

namespace emkit {

struct ScheduleOption {
  std::string name;                 // "in" (passed as --in), or as written when it starts with a dash
  std::vector<std::string> values;  // empty: a flag
  long line = 0;
};

struct ScheduleJob {
  std::string name;     // "sim", or "job001" when not named
  std::string type;     // "pick", "simulate micrographs", "external"
  std::string command;  // external jobs: the shell command ({...} resolved)
  int ranks = 1;
  int threads = 0;                      // 0: the pipeline's
  std::vector<ScheduleOption> options;  // {...} resolved, `out` made relative to the project folder
  std::string folder;                   // "Pick/job002", relative to the project folder
  std::vector<std::string> depends;     // names of the earlier jobs it refers to, in order
  long line = 0;                        // of its [[job]] header
  int number = 0;                       // 1-based
  bool has_out = false;                 // its options name the output (`out`)

  // The emkit command ("pick"), or "external".
  std::string Command() const;
  bool external() const { return type == "external"; }
};

struct Schedule {
  std::string path;     // the file it was read from
  std::string project;  // project folder (may be empty: then it must be given)
  std::string mpirun = "mpirun --bind-to none";
  std::vector<ScheduleJob> jobs;

  // By name ("sim"), default name ("job002") or folder ("Pick/job002"); nullptr when none.
  const ScheduleJob* Find(const std::string& name) const;
  // Index of Find(name); throws InvalidInputError naming the schedule when none.
  std::size_t Index(const std::string& name) const;
};

// Parses a schedule. `known_commands`: the emkit commands a job's type may name (empty: any).
// Errors name the file and line ("schedule.toml:12: ...").
Schedule ParseSchedule(const std::string& text, const std::string& source,
                       const std::vector<std::string>& known_commands = {});
Schedule ReadSchedule(const std::string& path, const std::vector<std::string>& known_commands = {});

// The folder of a job's type: "Simulate", "Pick", "Class2D", "EvalPicks", ...
std::string JobTypeFolder(const std::string& command);

// The command line of an emkit job, after "emkit": {"pick", "--method", "log", ..., "-o", folder}.
// Threads and ranks are not part of it.
std::vector<std::string> JobArguments(const ScheduleJob& job);

// Shell quoting of one word ('...' when needed).
std::string ShellQuote(const std::string& word);

}  // namespace emkit
