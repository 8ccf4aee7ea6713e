// `emkit pipeline bundle JOB DIR`: what a job of a project needs to be re-run elsewhere. DIR
// becomes a small project: the job file in job/ (job.toml, the command's options file, note.txt), every
// input file its command line names at its path in the project, STAR inputs with the files they
// name (only those: the particle stacks or micrographs of the rows) rewritten to paths relative to
// DIR, and rerun.sh, which runs the job there. Nothing is written outside DIR.
#pragma once

#include <cstdint>
#include <string>

namespace emkit {

struct BundleResult {
  std::string dir;
  int files = 0;
  std::uint64_t bytes = 0;
  int star_files = 0;       // STAR inputs rewritten
  int rewritten_names = 0;  // file names changed in them (absolute or beside-the-STAR names)
};

// `job_dir`: the job's folder in its project (<project>/<Type>/jobNNN, holding job.toml).
BundleResult BundleJob(const std::string& job_dir, const std::string& out_dir);

}  // namespace emkit
