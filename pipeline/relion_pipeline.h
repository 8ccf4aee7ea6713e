// RELION 3.1's view of an emkit project: default_pipeline.star (processes, their output nodes and
// the edges between them, so RELION's GUI lists the jobs), and RELION job.star files read into
// schedule jobs.
#pragma once

#include <string>
#include <vector>

#include "pipeline/schedule.h"

namespace emkit {

// An output node of a job: a file RELION knows how to use (NODE_MICS = 1, NODE_MIC_COORDS = 2,
// NODE_PART_DATA = 3, NODE_3DREF = 6, NODE_MODEL = 8, NODE_OPTIMISER = 9).
struct RelionNode {
  std::string name;  // relative to the project, e.g. "Extract/job004/particles.star"
  int type = 0;
};
// The output nodes of a job, from the files in its folder (none when it has not run).
std::vector<RelionNode> RelionOutputNodes(const ScheduleJob& job, const std::string& project);
// RELION's process type of an emkit command (AutoPick = 4, Extract = 5, Class2D = 8, Class3D = 9,
// Refine3D = 10, External = 99).
int RelionProcessType(const std::string& command);

// Writes <project>/default_pipeline.star for the schedule's jobs and their current state.
void WriteRelionPipeline(const Schedule& schedule, const std::string& project);

// RELION 3.1 External jobs: RELION runs `<program> --o External/jobNNN/ --in_mics X [--in_coords Y]
// [--param value ...] --j N` and waits for RELION_JOB_EXIT_SUCCESS (or _FAILURE) in the output
// folder; RELION_OUTPUT_NODES.star names the outputs it adds to the project.
class RelionExternalJob {
 public:
  // Removes the markers of an earlier run of the job.
  explicit RelionExternalJob(std::string dir);
  // Without Success() (an error on the way): RELION_JOB_EXIT_FAILURE.
  ~RelionExternalJob();
  RelionExternalJob(const RelionExternalJob&) = delete;
  RelionExternalJob& operator=(const RelionExternalJob&) = delete;
  // Writes RELION_OUTPUT_NODES.star (names relative to the project, as RELION passes --o), then
  // RELION_JOB_EXIT_SUCCESS.
  void Success(const std::vector<RelionNode>& nodes);

 private:
  std::string dir_;
  bool done_ = false;
};

// Where RELION 3.1 looks for the coordinates of a micrograph: its name after the job folder
// ("MotionCorr/job002/Movies/mic.mrc" -> "Movies/mic"), without extension.
std::string RelionCoordinateKey(const std::string& micrograph_name);

}  // namespace emkit
