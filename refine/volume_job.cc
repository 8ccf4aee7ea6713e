#include "refine/volume_job.h"

#include <cmath>

#include "core/error.h"
#include "io/mrc.h"
#include "io/png.h"
#include "io/star.h"
#include "refine/class3d.h"
#include "refine/estep2d.h"
#include "refine/expectation_pass.h"
#include "refine/mstep2d.h"
#include "refine/sampling2d.h"

namespace emkit {

Volume ReadStartingMap(const std::string& path, const std::string& option, int box, double pixel_size,
                       double ini_high) {
  MrcHeader header;
  Volume ref = ReadMrcFinite(path, option, &header);
  if (ref.nx() != box || ref.ny() != box || ref.nz() != box)
    throw InvalidInputError(path + ": the reference is " + std::to_string(ref.nx()) + " x " + std::to_string(ref.ny()) +
                            " x " + std::to_string(ref.nz()) + " voxels; the particles' box is " + std::to_string(box) +
                            " (resample the map first)");
  const double ref_apix = header.mx > 0 ? header.cella[0] / header.mx : 0;
  if (ref_apix > 0 && std::fabs(ref_apix - pixel_size) > 0.01 * pixel_size)
    throw InvalidInputError(path + ": pixel size " + std::to_string(ref_apix) + " Å differs from the particles' " +
                            std::to_string(pixel_size) + " Å (resample the map first)");
  LowPassMap(&ref, pixel_size, ini_high);
  return ref;
}

void EstimateInitialNoise(const ParticleJob& job, const ClassificationOptions& opt, const PrepOptions& prep,
                          const std::string& program, Communicator& comm, Class2dModel* model) {
  const int N = job.box, n = job.reader->count();
  EStepSetup avg;
  avg.px = SelectPixels(N, N);
  avg.classes = 1;
  avg.orient = InPlaneOrientations(360);
  avg.trans = {{0, 0}};
  avg.inv_sigma2.assign(avg.px.size(), 1.f);
  avg.log_pk = {0.0};
  SetTranslationPhases(&avg);
  PrepOptions plain = prep;
  plain.zero_mask = true;
  plain.ctf = false;
  plain.highres_power = false;
  const std::vector<int> all_zero(n, 0);
  Class2dSums average(1, N, avg.pad, avg.px.current_size, 0);
  Class2dPassSums sums(&average, opt.threads);
  std::vector<ParticleResult> results;
  ExpectationPass(MakePassContext(job, opt, *model, 0, program), avg, &all_zero, plain, comm, &sums, &results);
  InitialNoise(average, model);
}

int ResolutionShell(const std::vector<double>& dvp, int box) {
  int ires = 1;
  for (; ires < box / 2; ++ires)
    if (dvp[ires] < 1) break;
  return ires - 1;
}

void WriteMapProjections(const std::string& path, const std::vector<Volume>& maps) {
  const int n = maps.front().nx(), gap = 2, zoom = std::max(1, (96 + n - 1) / n), cell = n * zoom;
  const int K = static_cast<int>(maps.size());
  Image out(3 * cell + 4 * gap, K * cell + (K + 1) * gap, 1, 0.f);
  for (int k = 0; k < K; ++k)
    for (int t = 0; t < 3; ++t) {
      Image tile(n, n, 1, 0.f);
      for (int z = 0; z < n; ++z)
        for (int y = 0; y < n; ++y)
          for (int x = 0; x < n; ++x) {
            const float v = maps[k](x, y, z);
            if (t == 0) tile(x, y) += v;
            if (t == 1) tile(x, z) += v;
            if (t == 2) tile(y, z) += v;
          }
      const Stats s = ComputeStats(tile);
      const double sd = s.stddev > 0 ? s.stddev : 1;
      const int ox = gap + t * (cell + gap), oy = gap + k * (cell + gap);
      for (int b = 0; b < cell; ++b)
        for (int a = 0; a < cell; ++a)
          out(ox + a, oy + b) = static_cast<float>((tile(a / zoom, b / zoom) - s.mean) / sd);
    }
  WritePng(path, out, 0.5, 99.5);
}

void WriteSamplingStar(const std::string& path, const SamplingInfo& s) {
  StarFile f;
  f.version = 30001;
  StarTable& t = f.Add(StarTable("sampling_general", false));
  t.SetPair("rlnIs3DSampling", "1");
  t.SetPair("rlnIs3DTranslationalSampling", "0");
  t.SetPair("rlnHealpixOrder", std::to_string(s.healpix_order));
  t.SetPair("rlnSymmetryGroup", s.symmetry);
  t.SetPair("rlnPsiStep", FormatStarNumber(HealpixStep(s.healpix_order)));
  t.SetPair("rlnOffsetRange", FormatStarNumber(s.offset_range));
  t.SetPair("rlnOffsetStep", FormatStarNumber(s.offset_step));
  t.SetPair("rlnHealpixOrderOriginal", std::to_string(s.healpix_order_original));
  t.SetPair("rlnPsiStepOriginal", FormatStarNumber(HealpixStep(s.healpix_order_original)));
  t.SetPair("rlnOffsetRangeOriginal", FormatStarNumber(s.offset_range_original));
  t.SetPair("rlnOffsetStepOriginal", FormatStarNumber(s.offset_step_original));
  t.SetPair("rlnSamplingPerturbInstance", FormatStarNumber(s.perturb_instance));
  t.SetPair("rlnSamplingPerturbFactor", FormatStarNumber(s.perturb_factor));
  if (s.local) {
    // RELION's orientational prior mode 1 (rot, tilt, psi): sigma^2 in degrees^2.
    t.SetPair("rlnOrientationalPriorMode", "1");
    t.SetPair("rlnSigmaPriorRotAngle", FormatStarNumber(s.sigma_angles_deg));
    t.SetPair("rlnSigmaPriorTiltAngle", FormatStarNumber(s.sigma_angles_deg));
    t.SetPair("rlnSigmaPriorPsiAngle", FormatStarNumber(s.sigma_angles_deg));
  }
  WriteStar(path, f);
}

}  // namespace emkit
