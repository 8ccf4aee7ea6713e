// The state of a 2D classification between iterations (RELION's MlModel for 2D), and its
// RELION-compatible files: run_itNNN_model.star / _classes.mrcs / _data.star / _optimiser.star.
#pragma once

#include <string>
#include <vector>

#include "core/image.h"
#include "io/particles.h"

namespace emkit {

// A group of particles sharing an intensity scale (RELION's data_model_groups).
struct Class2dGroup {
  int number = 1;  // rlnGroupNumber
  std::string name = "group_1";
  long particles = 0;  // rlnGroupNrParticles
  double scale = 1;    // rlnGroupScaleCorrection
};

struct Class2dModel {
  int box = 0;            // rlnOriginalImageSize
  double pixel_size = 1;  // Å
  int classes = 0;
  double tau2_fudge = 2;
  int current_size = 0;                                     // rlnCurrentImageSize
  double current_resolution = 0;                            // Å
  std::vector<Image> refs;                                  // real-space class averages (box x box)
  std::vector<double> pk;                                   // rlnClassDistribution
  std::vector<std::vector<double>> tau2, sigma2_ref, ssnr;  // per class, per shell 0..box/2
  std::vector<double> sigma2_noise;                         // per shell
  std::vector<double> fsc_halves;                           // per shell: gold-standard FSC (refine3d; else empty)
  double sigma_offset_px = 0;
  std::vector<double> acc_rot, acc_trans_px, est_resolution;  // per class
  double loglik = 0, ave_pmax = 0;
  double avg_norm = 1;               // rlnNormCorrectionAverage
  std::vector<Class2dGroup> groups;  // noise is one spectrum shared by all groups
  int shells() const { return box / 2 + 1; }
  void Resize(int k, int n);
};

// Per-particle state carried between iterations and written to _data.star.
struct ParticleState {
  int class_number = 0;               // 1-based, 0 = none
  double rot = 0, tilt = 0, psi = 0;  // degrees (rot = tilt = 0 in 2D)
  double offset_x = 0, offset_y = 0;  // px (rlnOriginX/YAngst / pixel size)
  double pmax = 0, loglik = 0;
  int nsig = 0;
  double norm = 1;  // rlnNormCorrection
  int group = 0;    // index into Class2dModel::groups
};

// Writes run_itNNN_model.star (RELION 3.1 layout) referring to `classes_name`.
void WriteModelStar(const std::string& path, const Class2dModel& m, const std::string& classes_name);
// The same for any reference dimensionality: one rlnReferenceImage per class (k@stack for 2D,
// a map file per class for 3D), `padding` = rlnPaddingFactor.
void WriteModelStar(const std::string& path, const Class2dModel& m, const std::vector<std::string>& reference_names,
                    int reference_dim, int padding);
// Reads a model written by emkit or RELION 3.1 (classes from its rlnReferenceImage stack).
// RELION's tau2 is on its 2x padded grid; it is converted to emkit's unpadded scale.
// With `maps`, a 3D model (rlnReferenceDimensionality 3): one map file per class, read into *maps.
Class2dModel ReadModelStar(const std::string& path, std::vector<Image>* maps = nullptr);

// Adds rlnGroupNumber (from `groups`) when the particles' source has none.
void WriteDataStar(const std::string& path, const ParticleSet& set, const std::vector<ParticleState>& state,
                   double pixel_size, const std::vector<Class2dGroup>& groups = {});
std::vector<ParticleState> StateFromParticles(const ParticleSet& set, double pixel_size);

// The exact state an iteration hands to the next (run_itNNN_state.bin beside its model.star):
// the STAR files round the model's spectra, priors and the particles' offsets and norms to 6-7
// digits, so a run continued from them would drift from the uninterrupted one. Doubles as
// stored in memory, little-endian.
void WriteClass2dState(const std::string& path, int iteration, const Class2dModel& m,
                       const std::vector<ParticleState>& state);
// Overwrites the values the STAR files rounded; throws when the file does not match the model
// and particles read from them (classes, box, groups, particle count, iteration).
void ReadClass2dState(const std::string& path, int iteration, Class2dModel* m, std::vector<ParticleState>* state);

struct OptimiserState {
  int iteration = 0, iterations = 0;
  unsigned long long seed = 0;
  std::string model_star, data_star, sampling_star;
  double particle_diameter = 0, psi_step = 6, offset_range_px = 5, offset_step_px = 1;
  bool zero_mask = false, ctf = true, only_flip_phases = false, ctf_intact_first_peak = false;
  bool norm_correction = false, scale_correction = false;  // rlnDoCorrectNorm, rlnDoCorrectScale
  int incr_size = 10;                                      // rlnIncrementImageSize
  double strict_highres_exp = 0;    // rlnHighresLimitExpectation (Å; 0: none, which RELION writes as -1)
  int adaptive_oversampling = 0;    // rlnAdaptiveOversampleOrder
  std::string program = "class2d";  // the emkit command, named in the file's header
  double tau2_fudge = 2;            // the model's rlnTau2FudgeFactor (read only)
};
void WriteOptimiserStar(const std::string& path, const OptimiserState& o, const std::string& command_line);
void WriteSamplingStar(const std::string& path, const OptimiserState& o, double pixel_size);
// Reads an emkit or RELION optimiser.star (and its sampling.star); paths are resolved against
// the optimiser's folder when they do not exist as written.
OptimiserState ReadOptimiserStar(const std::string& path);
// The E-step limit (rlnHighresLimitExpectation, Å) of a run's optimiser.star (emkit's or RELION's; 0:
// none, or no such label), which --continue keeps unless --strict-highres-exp is given again.
double ReadStrictHighresExp(const std::string& optimiser_star);

// Montage of class averages sorted by size (largest first), each tile enlarged to >= 160 px and
// captioned with its class number, share of the particles and estimated resolution.
void WriteClassMontage(const std::string& path, const Class2dModel& m);

}  // namespace emkit
