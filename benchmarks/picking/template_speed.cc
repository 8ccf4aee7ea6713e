// Times emkit's template picking of one large micrograph: read, bin to the working pixel size,
// normalised cross-correlation with N references x 360/psi_step rotations, peaks. Prints JSON.
//   bench_template_speed MICROGRAPH.mrc REFERENCES.mrcs DIAMETER_A WORKING_PIXEL_A THREADS [CORRELATION_PIXEL]
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "core/parallel.h"
#include "io/micrograph.h"
#include "io/mrc.h"
#include "picker/pick.h"
#include "picker/template_matcher.h"

int main(int argc, char** argv) {
  using namespace emkit;
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s MIC.mrc REFS.mrcs DIAMETER_A WORKING_PIXEL_A THREADS [CORRELATION_PIXEL_A]\n",
                 argv[0]);
    return 2;
  }
  const double diameter = std::atof(argv[3]), working = std::atof(argv[4]);
  const int threads = std::atoi(argv[5]);
  SetGlobalThreads(threads);
  MrcHeader rh;
  Image refs = ReadMrc(argv[2], &rh);
  ImageStack stack;
  for (int z = 0; z < refs.nz(); ++z) stack.push_back(refs.Section(z));
  TemplateOptions t;
  t.diameter = diameter;
  t.threads = threads;
  if (argc > 6) t.correlation_pixel = std::atof(argv[6]);
  PickOptions p;
  p.diameter = diameter;
  p.threshold = 0.2;
  p.threads = threads;
  p.preprocess.working_pixel_size = working;
  p.preprocess.invert = true;
  nlohmann::json runs = nlohmann::json::array();
  for (int rep = 0; rep < 3; ++rep) {
    TemplateScoreMapper mapper(stack, rh.PixelSize(), t);  // fresh: no templates cached across reps
    const double t0 = NowSeconds();
    MicrographInfo info;
    Image mic = ReadMicrograph(argv[1], &info);
    MicrographInput in;
    in.path = in.name = argv[1];
    in.pixel_size = info.pixel_size;
    const double t1 = NowSeconds();
    PickResult r = PickMicrograph(mic, in, &mapper, p);
    const double t2 = NowSeconds();
    runs.push_back(
        {{"read_s", t1 - t0},
         {"preprocess_s", r.preprocess_seconds},
         {"score_and_peaks_s", r.seconds},
         {"total_s", t2 - t0},
         {"picks", r.picks.size()},
         {"binned", std::to_string(r.preprocessed.image.nx()) + "x" + std::to_string(r.preprocessed.image.ny())},
         {"micrograph", std::to_string(mic.nx()) + "x" + std::to_string(mic.ny())},
         {"references", stack.size()},
         {"rotations", mapper.num_rotations()},
         {"threads", threads}});
  }
  std::printf("%s\n", runs.dump(1).c_str());
  return 0;
}
