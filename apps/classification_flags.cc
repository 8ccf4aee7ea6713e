#include "apps/classification_flags.h"

namespace emkit {

void AddClassificationOptions(CLI::App& app, ClassificationOptions* o, ClassificationFlags* f,
                              const std::string& output_description) {
  AddInput(app, o->input, "Particles STAR file (RELION 3.0/3.1) with stacks");
  AddOutput(app, o->out_dir, output_description)->required();
  app.add_option("--K,-K", o->classes, "Number of classes")->capture_default_str();
  app.add_option("--iter", o->iterations, "Last iteration to run")->capture_default_str();
  app.add_option("--particle-diameter,--particle_diameter", o->particle_diameter,
                 "Mask diameter in Å (0: 90% of the box)")
      ->capture_default_str();
  app.add_option("--tau2-fudge,--tau2_fudge", o->tau2_fudge, "Regularisation parameter T")->capture_default_str();
  app.add_option("--offset-range,--offset_range", o->offset_range,
                 "Translation search range (pixels of the particle images)")
      ->capture_default_str();
  app.add_option("--offset-step,--offset_step", o->offset_step,
                 "Translation search step (pixels of the particle images)")
      ->capture_default_str();
  app.add_flag("--no-ctf", f->no_ctf, "Ignore the CTF (default: CTF in the likelihood, like RELION --ctf)");
  app.add_flag("--ctf", o->ctf, "Use the CTF (default)");
  app.add_flag("--only-flip-phases,--only_flip_phases", o->only_flip_phases, "Use only the sign of the CTF");
  app.add_flag("--ctf-intact-first-peak,--ctf_intact_first_peak", o->ctf_intact_first_peak,
               "CTF = 1 until its first peak");
  app.add_flag("--zero-mask,--zero_mask", o->zero_mask, "Zeros outside the particle mask (default: noise)");
  app.add_option("--continue", o->continue_from,
                 "Continue from run_itNNN_optimiser.star or _model.star (emkit or RELION)");
  app.add_option("--incr-size", o->incr_size,
                 "Fourier pixels beyond the estimated resolution used in the next iteration (RELION: 10)")
      ->capture_default_str();
  app.add_option("--chunk", o->chunk_size,
                 "Particles per E-step block (0: automatic); results depend on it, not on threads or ranks")
      ->capture_default_str();
  app.add_flag("--norm", o->norm_correction,
               "RELION's per-particle normalisation correction (rlnNormCorrection; off by default, as relion_refine)");
  app.add_flag("--scale", o->scale_correction,
               "RELION's per-group intensity scale correction (rlnGroupScaleCorrection; groups from rlnGroupName, "
               "rlnGroupNumber or the micrograph; off by default, as relion_refine)");
  app.add_flag("--ignore-offsets", o->ignore_input_offsets,
               "Start all particles at offset 0 (ignore rlnOriginX/YAngst)");
  app.add_option("--strict-highres-exp,--strict_highres_exp", o->strict_highres_exp,
                 "Only frequencies below this resolution (Å) make the probabilities; the classes or maps are "
                 "still reconstructed to the current resolution (0: off)")
      ->capture_default_str();
  app.add_flag("--no-png", f->no_png, "Do not write the PNG pictures");
  AddOverwriteOption(app, &f->overwrite);
  AddCommonOptions(app, &f->common);
}

void AddPerturbOption(CLI::App& app, double* perturb) {
  app.add_option("--perturb", *perturb,
                 "Random perturbation of the sampling each iteration, a fraction of the angular and offset steps "
                 "(RELION: 0.5; 0: off)")
      ->capture_default_str();
}

void AddProjectionMemoryOption(CLI::App& app, int* megabytes) {
  app.add_option("--projection-memory", *megabytes,
                 "Memory (MB per rank) for projections made once and reused: the references of the orientation "
                 "grid, the children that particles share; the others are projected each time they are scored "
                 "(slower, the same results)")
      ->capture_default_str();
}

void AddClassificationRangeChecks(CLI::App& app, std::vector<RangeCheck> own) {
  std::vector<RangeCheck> checks = {{"--K", InRange(1, 10000)},
                                    {"--iter", Positive()},
                                    {"--particle-diameter", NonNegative()},
                                    {"--tau2-fudge", Positive()},
                                    {"--offset-range", NonNegative()},
                                    {"--offset-step", Positive()},
                                    {"--incr-size", NonNegative()},
                                    {"--chunk", NonNegative()},
                                    {"--strict-highres-exp", NonNegative()}};
  checks.insert(checks.end(), own.begin(), own.end());
  AddRangeChecks(app, checks);
}

void ApplyClassificationFlags(ClassificationFlags* f, ClassificationOptions* o) {
  o->threads = ApplyCommonOptions(&f->common);
  o->seed = f->common.seed;
  o->ctf = !f->no_ctf;
  o->write_png = !f->no_png;
}

}  // namespace emkit
