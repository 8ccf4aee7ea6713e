// RELION 3.1 job files (job.star: data_job with rlnJobType, data_joboptions_values) read as
// emkit jobs: AutoPick -> pick, Extract -> extract, Class2D -> class2d, Class3D -> class3d,
// Refine3D -> refine3d. Every RELION option is either mapped to an emkit option, ignored
// (GUI, queue and I/O tuning that do not change results), or, when set to anything but RELION's
// default, refused: the error lists each such option with its line. Sampling is mapped as the GUI
// passes it to relion_refine: for Class3D and Refine3D the GUI's steps are the oversampled ones
// (HEALPix order one below, twice the offset step, --oversampling 1).
#pragma once

#include <string>
#include <vector>

#include "pipeline/schedule.h"

namespace emkit {

struct RelionJobFile {
  std::string type;  // the emkit command
  std::vector<ScheduleOption> options;
  int ranks = 1;    // nr_mpi
  int threads = 0;  // nr_threads
};

RelionJobFile ReadRelionJobStar(const std::string& path);

}  // namespace emkit
