#include "refine/postprocess.h"

#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/fft.h"
#include "core/files.h"
#include "core/random.h"
#include "io/star.h"
#include "refine/fsc.h"

namespace emkit {
namespace {

std::string Shape(const Volume& v) {
  return std::to_string(v.nx()) + "x" + std::to_string(v.ny()) + "x" + std::to_string(v.nz());
}

Volume Times(const Volume& a, const Volume& m) {
  Volume out = a;
  for (std::size_t i = 0; i < out.size(); ++i) out[i] *= m[i];
  return out;
}

// The last shell (from 0) before `fsc` first drops below `threshold`.
int LastShellAbove(const std::vector<double>& fsc, double threshold) {
  int last = 0;
  for (std::size_t s = 0; s < fsc.size(); ++s) {
    if (fsc[s] < threshold) break;
    last = static_cast<int>(s);
  }
  return last;
}

void CheckInputs(const Volume& h1, const Volume& h2, const Volume* mask) {
  if (h1.nx() != h1.ny() || h1.nx() != h1.nz() || h1.nx() < 4)
    throw InvalidInputError("half maps must be cubes of at least 4 voxels (half1 is " + Shape(h1) + ")");
  if (!h1.SameShape(h2))
    throw InvalidInputError("half maps differ in size: half1 is " + Shape(h1) + ", half2 " + Shape(h2));
  if (mask) {
    if (!mask->SameShape(h1)) throw InvalidInputError("the mask is " + Shape(*mask) + ", the half maps " + Shape(h1));
    for (float v : *mask)
      if (!(v >= -1e-6f && v <= 1 + 1e-6f))
        throw InvalidInputError("mask values must lie in [0, 1] (found " + std::to_string(v) + ")");
  }
}

// Masked, phase-randomised masked and corrected FSC into r (RELION's run(), do_mask branch).
void MaskedFsc(const Volume& h1, const Volume& h2, const Volume& mask, const PostprocessOptions& o,
               PostprocessResult* r) {
  const int n = r->box;
  r->masked = true;
  r->fsc_masked = Fsc(Times(h1, mask), Times(h2, mask), o.threads);
  int shell = -1;
  if (o.randomize_at_A > 0) {
    shell = static_cast<int>(o.pixel_size * n / o.randomize_at_A);
  } else {
    for (std::size_t s = 1; s < r->fsc_unmasked.size(); ++s)
      if (r->fsc_unmasked[s] < o.randomize_fsc) {
        shell = static_cast<int>(s);
        break;
      }
  }
  if (shell <= 0)
    throw InvalidInputError("the unmasked FSC never drops below " + std::to_string(o.randomize_fsc) +
                            ": cannot choose where to randomise phases (give a resolution to randomise from)");
  r->randomize_shell = shell;
  const Volume p1 = RandomizePhasesBeyond(h1, shell, o.seed, StreamId("postprocess-phases", 1), o.threads);
  const Volume p2 = RandomizePhasesBeyond(h2, shell, o.seed, StreamId("postprocess-phases", 2), o.threads);
  r->fsc_random_masked = Fsc(Times(p1, mask), Times(p2, mask), o.threads);
  r->fsc_corrected = CorrectedFsc(r->fsc_masked, r->fsc_random_masked, shell);
  // cisTEM-like partial FSC from the fraction of the box inside the mask (RELION writes it too).
  const double frac = r->mask_fraction > 0 ? 0.476 / r->mask_fraction : 0;
  r->fsc_part_fracmask.resize(r->fsc_unmasked.size());
  for (std::size_t s = 0; s < r->fsc_unmasked.size(); ++s) {
    const double f = r->fsc_unmasked[s];
    r->fsc_part_fracmask[s] = frac * f / (1 + (frac - 1) * f);
  }
}

// Sharpens the average of the halves into r->sharpened (RELION's sharpenMap).
void Sharpen(const Volume& h1, const Volume& h2, const PostprocessOptions& o, PostprocessResult* r) {
  Volume avg = h1;
  for (std::size_t i = 0; i < avg.size(); ++i) avg[i] = 0.5f * (h1[i] + h2[i]);
  FourierGrid f = Fft(avg, o.threads);
  const double apix = o.pixel_size;
  auto guinier = [&] { return GuinierPlot(f, apix, o.autob_lowres, o.autob_highres); };
  r->guinier_in = guinier();
  if (!o.mtf.value.empty()) {
    DivideByMtf(&f, o.mtf, apix, o.mtf_pixel_size > 0 ? o.mtf_pixel_size : apix);
    r->guinier_invmtf = guinier();
  }
  if (o.fsc_weighting) ApplyFscWeighting(&f, r->fsc_corrected);
  r->guinier_weighted = guinier();
  if (o.auto_bfactor) {
    r->guinier_fit = FitStraightLine(r->guinier_weighted);
    r->bfactor = 4 * r->guinier_fit.slope;
  } else {
    r->bfactor = o.bfactor;
    if (o.bfactor > 0) r->warnings.push_back("a positive B-factor dampens the map; a negative one sharpens it");
  }
  if (std::fabs(r->bfactor) > 0) ApplyBFactorToMap(&f, r->bfactor, apix);
  r->guinier_sharpened = guinier();
  r->low_pass_A = o.low_pass_A < 0 ? r->resolution_A : o.low_pass_A;
  if (r->low_pass_A != 0) LowPassFilterMap(&f, r->low_pass_A, apix, o.filter_edge_width);
  r->sharpened = InverseFft(f, o.threads);
}

}  // namespace

void PostprocessOptions::Check() const {
  if (!(pixel_size > 0)) throw InvalidInputError("pixel size: must be > 0 Å (got " + std::to_string(pixel_size) + ")");
  if (!(randomize_fsc > 0 && randomize_fsc < 1)) throw InvalidInputError("randomize FSC: must lie in (0, 1)");
  if (!(randomize_at_A >= 0)) throw InvalidInputError("randomize resolution: must be >= 0 Å");
  if (!std::isfinite(bfactor)) throw InvalidInputError("B-factor: must be finite");
  if (auto_bfactor && bfactor != 0)
    throw InvalidInputError("give either the automatic B-factor or a B-factor, not both");
  if (!(autob_lowres > 0)) throw InvalidInputError("autob lowres: must be > 0 Å");
  if (!(autob_highres >= 0) || (autob_highres > 0 && autob_highres >= autob_lowres))
    throw InvalidInputError("autob highres: must be 0 or below the low-resolution end (" +
                            std::to_string(autob_lowres) + " Å)");
  if (!std::isfinite(low_pass_A)) throw InvalidInputError("low-pass: must be finite");
  if (filter_edge_width < 0) throw InvalidInputError("filter edge width: must be >= 0 shells");
  if (!(mtf_pixel_size >= 0)) throw InvalidInputError("MTF pixel size: must be >= 0 Å");
}

std::vector<double> CorrectedFsc(const std::vector<double>& masked, const std::vector<double>& random_masked,
                                 int randomize_shell) {
  std::vector<double> out(masked.size());
  for (std::size_t s = 0; s < masked.size(); ++s) {
    double t = masked[s], n = random_masked[s];
    if (s == 0) {  // "sometimes the FSC at the origin becomes -1"
      if (t <= 0) t = 1;
      if (n <= 0) n = 1;
    }
    out[s] = static_cast<int>(s) < randomize_shell + 2 ? t : (t - n) / (1 - n);
  }
  return out;
}

PostprocessResult Postprocess(const Volume& half1, const Volume& half2, const Volume* mask,
                              const PostprocessOptions& o) {
  o.Check();
  CheckInputs(half1, half2, mask);
  PostprocessResult r;
  r.box = half1.nx();
  r.pixel_size = o.pixel_size;
  const double box_A = r.box * o.pixel_size;
  auto shell_res = [&](int s) { return s > 0 ? box_A / s : 999.0; };
  r.fsc_unmasked = Fsc(half1, half2, o.threads);
  if (mask) {
    r.mask_fraction = 0;
    for (float v : *mask) r.mask_fraction += v > 0.5f;
    r.mask_fraction /= double(mask->size());
    MaskedFsc(half1, half2, *mask, o, &r);
  } else {
    r.fsc_corrected = r.fsc_unmasked;
  }
  r.resolution_shell = LastShellAbove(r.fsc_corrected, 0.143);
  r.resolution_A = shell_res(r.resolution_shell);
  if (mask) {
    const int unmasked_shell = LastShellAbove(r.fsc_unmasked, 0.143);
    if (unmasked_shell > r.resolution_shell) {
      if (o.force_mask) {
        r.warnings.push_back("the unmasked FSC extends beyond the solvent-corrected FSC (mask kept: --force-mask)");
      } else {
        r.warnings.push_back(
            "the unmasked FSC extends beyond the solvent-corrected FSC: the unmasked FSC is used (adjust the mask, "
            "or --force-mask)");
        r.mask_skipped = true;
        r.fsc_corrected = r.fsc_unmasked;
        r.resolution_shell = unmasked_shell;
        r.resolution_A = shell_res(unmasked_shell);
      }
    } else if (r.fsc_random_masked[r.resolution_shell] > 0.1) {
      r.warnings.push_back(
          "the phase-randomised FSC is above 0.10 at the estimated resolution: the estimate may be wrong; a softer "
          "mask with fewer features gives lower phase-randomised FSCs");
    }
  }
  Sharpen(half1, half2, o, &r);
  if (mask) r.sharpened_masked = Times(r.sharpened, *mask);
  return r;
}

void WritePostprocessStar(const std::string& path, const PostprocessResult& r, const PostprocessOptions& o,
                          const PostprocessNames& names) {
  StarFile f;
  f.version = 30001;
  StarTable& g = f.Add(StarTable("general", false));
  g.SetPair("rlnFinalResolution", r.resolution_A);
  g.SetPair("rlnBfactorUsedForSharpening", r.bfactor);
  g.SetPair("rlnUnfilteredMapHalf1", names.half1);
  g.SetPair("rlnUnfilteredMapHalf2", names.half2);
  if (r.masked) {
    g.SetPair("rlnParticleBoxFractionSolventMask", r.mask_fraction > 0 ? 0.476 / r.mask_fraction : 0.0);
    g.SetPair("rlnMaskName", names.mask);
    g.SetPair("rlnRandomiseFrom", r.RandomizeFromA());
  }
  if (o.auto_bfactor) {
    g.SetPair("rlnFittedSlopeGuinierPlot", r.guinier_fit.slope);
    g.SetPair("rlnFittedInterceptGuinierPlot", r.guinier_fit.intercept);
    g.SetPair("rlnCorrelationFitGuinierPlot", r.guinier_fit.correlation);
  }
  StarTable& t = f.Add(StarTable("fsc"));
  std::vector<std::pair<const char*, const std::vector<double>*>> curves;
  if (r.masked)
    curves = {{"rlnFourierShellCorrelationCorrected", &r.fsc_corrected},
              {"rlnFourierShellCorrelationParticleMaskFraction", &r.fsc_part_fracmask},
              {"rlnFourierShellCorrelationUnmaskedMaps", &r.fsc_unmasked},
              {"rlnFourierShellCorrelationMaskedMaps", &r.fsc_masked},
              {"rlnCorrectedFourierShellCorrelationPhaseRandomizedMaskedMaps", &r.fsc_random_masked}};
  else
    curves = {{"rlnFourierShellCorrelationUnmaskedMaps", &r.fsc_unmasked}};
  for (const char* l : {"rlnSpectralIndex", "rlnResolution", "rlnAngstromResolution"}) t.AddColumn(l);
  for (const auto& c : curves) t.AddColumn(c.first);
  for (std::size_t s = 0; s < r.fsc_unmasked.size(); ++s) {
    const double res = s > 0 ? r.box * r.pixel_size / s : 999.0;
    std::vector<std::string> row = {std::to_string(s), FormatStarNumber(1 / res), FormatStarNumber(res)};
    for (const auto& c : curves) row.push_back(FormatStarNumber((*c.second)[s]));
    t.AddRow(row);
  }
  StarTable& q = f.Add(StarTable("guinier"));
  q.AddColumn("rlnResolutionSquared");
  q.AddColumn("rlnLogAmplitudesOriginal");
  const bool mtf = !r.guinier_invmtf.empty(), sharpened = o.auto_bfactor || std::fabs(o.bfactor) > 0;
  if (mtf) q.AddColumn("rlnLogAmplitudesMTFCorrected");
  if (o.fsc_weighting) q.AddColumn("rlnLogAmplitudesWeighted");
  if (sharpened) q.AddColumn("rlnLogAmplitudesSharpened");
  if (o.auto_bfactor) q.AddColumn("rlnLogAmplitudesIntercept");
  for (std::size_t i = 0; i < r.guinier_in.size(); ++i) {
    std::vector<std::string> row = {FormatStarNumber(r.guinier_in[i].x), FormatStarNumber(r.guinier_in[i].y)};
    if (mtf) row.push_back(FormatStarNumber(r.guinier_invmtf[i].y));
    if (o.fsc_weighting) row.push_back(FormatStarNumber(r.guinier_weighted[i].y));
    if (sharpened) row.push_back(FormatStarNumber(r.guinier_sharpened[i].y));
    if (o.auto_bfactor) row.push_back(FormatStarNumber(r.guinier_fit.intercept));
    q.AddRow(row);
  }
  std::string text = FormatStar(f);
  if (!names.command_line.empty()) text = "# emkit postprocess\n# " + names.command_line + "\n" + text;
  WriteTextFile(path, text);
}

void WriteFscXml(const std::string& path, const PostprocessResult& r) {
  std::string xml =
      "<fsc title=\"RELION masked-corrected FSC\" xaxis=\"Resolution (A-1)\" yaxis=\"Correlation Coefficient\">\n";
  for (std::size_t s = 0; s < r.fsc_corrected.size(); ++s) {
    const double res = s > 0 ? r.box * r.pixel_size / s : 999.0;
    char buf[160];
    std::snprintf(buf, sizeof buf, "  <coordinate>\n    <x>%g</x>\n    <y>%g</y>\n  </coordinate>\n", 1 / res,
                  r.fsc_corrected[s]);
    xml += buf;
  }
  WriteTextFile(path, xml + "</fsc>\n");
}

std::string OtherHalfMapName(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string from = "half1", to = "half2";
  if (name.find(from) == std::string::npos) std::swap(from, to);
  if (name.find(from) == std::string::npos) return "";
  for (std::size_t p = name.find(from); p != std::string::npos; p = name.find(from, p + to.size()))
    name.replace(p, from.size(), to);
  return dir + name;
}

}  // namespace emkit
