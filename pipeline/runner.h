// Runs a schedule (pipeline/schedule.h) into a project folder. Each job's folder holds, besides
// what its command writes (its effective options, file list and completion marker, see
// core/job_folder.h): run.out and run.err (its output), note.txt (the command lines that ran),
// job.toml (the job file: command line, hash, state, times) and RELION's
// RELION_JOB_EXIT_SUCCESS / _FAILURE markers.
//
// A job runs when it has not finished, when it failed or was killed (it re-runs from an empty
// folder, or continues where its command can: class2d --continue, train --resume), or when its
// hash changed: the hash covers its command line (not threads or ranks), the runs of the jobs
// it refers to, and the size and time of the other files its options name.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "pipeline/schedule.h"

namespace emkit {

struct PipelineOptions {
  std::string project;                            // project folder (created)
  std::string emkit;                              // the emkit binary the jobs run
  int threads = 0;                                // threads of a job that does not set them (0: all cores)
  std::string from;                               // re-run this job and every later one
  std::vector<std::string> only;                  // run only these jobs (their inputs must be done)
  bool dry_run = false;                           // print what would run
  std::function<void(const std::string&)> print;  // one line per job (default: stdout)
};

// The state of a job in its folder.
struct JobStatus {
  std::string name, folder, type;
  std::string state;                    // done, changed, failed, killed, running, not run
  double seconds = 0, cpu_seconds = 0;  // wall; user + system of the job's processes
  std::string finished;                 // UTC
  std::string figure;                   // the job's main result, one line
  std::string hash, recorded_hash;
};

// Runs the jobs that need to; returns 0, or 1 when a job failed (it stops there).
int RunPipeline(const Schedule& schedule, const PipelineOptions& options);
// Every job's state, in schedule order.
std::vector<JobStatus> PipelineStatus(const Schedule& schedule, const std::string& project);
std::string FormatStatus(const std::vector<JobStatus>& status);
// The hash of a job as it would run now (see above).
std::string JobHash(const Schedule& schedule, const ScheduleJob& job, const std::string& project);

// --submit slurm: writes <folder>/job.sbatch for each job (from `template_text`, or the built-in
// one when empty) and <project>/submit_slurm.sh, which submits them in order with
// --dependency=afterok on the jobs each refers to. Returns the submit script's path.
// Placeholders: {{name}} {{folder}} {{ntasks}} {{cpus}} {{project}} {{command}}.
std::string WriteSlurmScripts(const Schedule& schedule, const PipelineOptions& options,
                              const std::string& template_text = "");
std::string DefaultSlurmTemplate();

}  // namespace emkit
