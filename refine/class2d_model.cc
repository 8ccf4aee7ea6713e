#include "refine/class2d_model.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "core/error.h"
#include "core/files.h"
#include "core/filters.h"
#include "io/micrograph.h"
#include "io/mrc.h"
#include "io/star.h"

namespace emkit {

void Class2dModel::Resize(int k, int n) {
  classes = k;
  box = n;
  refs.assign(k, Image(n, n));
  pk.assign(k, 1.0 / k);
  tau2.assign(k, std::vector<double>(shells(), 0.0));
  sigma2_ref = ssnr = tau2;
  sigma2_noise.assign(shells(), 0.0);
  acc_rot.assign(k, 999);
  acc_trans_px.assign(k, 999);
  est_resolution.assign(k, 999);
}

namespace {

std::string Num(double v) { return FormatStarNumber(v); }

// A path written by RELION relative to its project folder: try as given, next to `near`, and
// the bare file name next to `near`.
std::string ResolveNear(const std::string& path, const std::string& near) {
  if (std::filesystem::exists(path)) return path;
  const std::string dir = ParentDir(near);
  const std::string a = JoinPath(dir, path);
  if (std::filesystem::exists(a)) return a;
  const std::string b = JoinPath(dir, Basename(path));
  if (std::filesystem::exists(b)) return b;
  throw IoError(near + ": cannot find '" + path + "' (also tried " + a + " and " + b + ")");
}

}  // namespace

void WriteModelStar(const std::string& path, const Class2dModel& m, const std::string& classes_name) {
  std::vector<std::string> names;
  for (int k = 0; k < m.classes; ++k) names.push_back(MakeImageName(k, classes_name));
  WriteModelStar(path, m, names, 2, 1);
}

void WriteModelStar(const std::string& path, const Class2dModel& m, const std::vector<std::string>& reference_names,
                    int reference_dim, int padding) {
  EMKIT_CHECK(static_cast<int>(reference_names.size()) == m.classes, "one reference name per class");
  StarFile f;
  f.version = 30001;
  StarTable& g = f.Add(StarTable("model_general", false));
  g.SetPair("rlnReferenceDimensionality", std::to_string(reference_dim));
  g.SetPair("rlnDataDimensionality", "2");
  g.SetPair("rlnOriginalImageSize", std::to_string(m.box));
  g.SetPair("rlnCurrentResolution", Num(m.current_resolution));
  g.SetPair("rlnCurrentImageSize", std::to_string(m.current_size));
  g.SetPair("rlnPaddingFactor", Num(padding));
  g.SetPair("rlnPixelSize", Num(m.pixel_size));
  g.SetPair("rlnNrClasses", std::to_string(m.classes));
  g.SetPair("rlnNrBodies", "1");
  const std::vector<Class2dGroup> one = {Class2dGroup()};
  const std::vector<Class2dGroup>& groups = m.groups.empty() ? one : m.groups;
  g.SetPair("rlnNrGroups", std::to_string(groups.size()));
  g.SetPair("rlnTau2FudgeFactor", Num(m.tau2_fudge));
  g.SetPair("rlnNormCorrectionAverage", Num(m.avg_norm));
  g.SetPair("rlnSigmaOffsetsAngst", Num(m.sigma_offset_px * m.pixel_size));
  g.SetPair("rlnLogLikelihood", Num(m.loglik));
  g.SetPair("rlnAveragePmax", Num(m.ave_pmax));
  StarTable& c = f.Add(StarTable("model_classes"));
  for (const char* l :
       {"rlnReferenceImage", "rlnClassDistribution", "rlnAccuracyRotations", "rlnAccuracyTranslationsAngst",
        "rlnEstimatedResolution", "rlnOverallFourierCompleteness", "rlnClassPriorOffsetX", "rlnClassPriorOffsetY"})
    c.AddColumn(l);
  for (int k = 0; k < m.classes; ++k)
    c.AddRow({reference_names[k], Num(m.pk[k]), Num(m.acc_rot[k]), Num(m.acc_trans_px[k] * m.pixel_size),
              Num(m.est_resolution[k]), Num(1), Num(0), Num(0)});
  for (int k = 0; k < m.classes; ++k) {
    StarTable& t = f.Add(StarTable("model_class_" + std::to_string(k + 1)));
    for (const char* l :
         {"rlnSpectralIndex", "rlnResolution", "rlnAngstromResolution", "rlnSsnrMap", "rlnGoldStandardFsc",
          "rlnFourierCompleteness", "rlnReferenceSigma2", "rlnReferenceTau2", "rlnSpectralOrientabilityContribution"})
      t.AddColumn(l);
    for (int s = 0; s < m.shells(); ++s) {
      const double res = s / (m.box * m.pixel_size);
      const double fsc = s < static_cast<int>(m.fsc_halves.size()) ? m.fsc_halves[s] : 0.0;
      t.AddRow({std::to_string(s), Num(res), Num(s ? 1.0 / res : 999.0), Num(m.ssnr[k][s]), Num(fsc),
                Num(m.ssnr[k][s] > 0 ? 1 : 0), Num(m.sigma2_ref[k][s]), Num(m.tau2[k][s]), Num(0)});
    }
  }
  StarTable& gr = f.Add(StarTable("model_groups"));
  for (const char* l : {"rlnGroupNumber", "rlnGroupName", "rlnGroupNrParticles", "rlnGroupScaleCorrection"})
    gr.AddColumn(l);
  for (const Class2dGroup& grp : groups)
    gr.AddRow({std::to_string(grp.number), grp.name, std::to_string(grp.particles), Num(grp.scale)});
  // One noise spectrum for all groups (RELION estimates one per group).
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    StarTable& s2 = f.Add(StarTable("model_group_" + std::to_string(gi + 1)));
    for (const char* l : {"rlnSpectralIndex", "rlnResolution", "rlnSigma2Noise"}) s2.AddColumn(l);
    for (int s = 0; s < m.shells(); ++s)
      s2.AddRow({std::to_string(s), Num(s / (m.box * m.pixel_size)), Num(m.sigma2_noise[s])});
  }
  WriteStar(path, f);
}

Class2dModel ReadModelStar(const std::string& path, std::vector<Image>* maps) {
  const StarFile f = ReadStar(path);
  const StarTable& g = f.Require("model_general");
  Class2dModel m;
  const int n = static_cast<int>(g.GetInt(0, "rlnOriginalImageSize"));
  const int k = static_cast<int>(g.GetInt(0, "rlnNrClasses"));
  const int dim = static_cast<int>(g.GetInt(0, "rlnReferenceDimensionality"));
  if (dim != (maps ? 3 : 2)) throw InvalidInputError(path + ": not a " + (maps ? "3D" : "2D") + " model");
  m.Resize(k, n);
  if (maps) maps->assign(k, Image());
  m.pixel_size = g.GetDouble(0, "rlnPixelSize");
  m.tau2_fudge = g.GetDouble(0, "rlnTau2FudgeFactor", 2);
  m.current_size = static_cast<int>(g.GetInt(0, "rlnCurrentImageSize"));
  m.current_resolution = g.GetDouble(0, "rlnCurrentResolution", 0);
  m.sigma_offset_px = g.GetDouble(0, "rlnSigmaOffsetsAngst", 10) / m.pixel_size;
  m.loglik = g.GetDouble(0, "rlnLogLikelihood", 0);
  m.ave_pmax = g.GetDouble(0, "rlnAveragePmax", 0);
  m.avg_norm = g.GetDouble(0, "rlnNormCorrectionAverage", 1);
  if (!(m.avg_norm > 0)) m.avg_norm = 1;
  const StarTable& c = f.Require("model_classes");
  if (static_cast<int>(c.num_rows()) != k)
    throw InvalidInputError(path + ": data_model_classes has " + std::to_string(c.num_rows()) +
                            " rows but rlnNrClasses is " + std::to_string(k));
  for (int i = 0; i < k; ++i) {
    const std::string& name = c.Get(i, "rlnReferenceImage");
    if (maps) {
      const std::string file = ResolveNear(name, path);
      (*maps)[i] = ReadMrcFinite(file, c.Where(i) + " rlnReferenceImage");
      if ((*maps)[i].nx() != n || (*maps)[i].ny() != n || (*maps)[i].nz() != n)
        throw InvalidInputError(file + ": class map size differs from rlnOriginalImageSize " + std::to_string(n));
    } else {
      const auto at = name.find('@');
      if (at == std::string::npos)
        throw InvalidInputError(c.Where(i) + ": rlnReferenceImage '" + name + "' has no '@'");
      const int section = std::stoi(name.substr(0, at)) - 1;
      const std::string stack = ResolveNear(name.substr(at + 1), path);
      m.refs[i] = ReadMrcSection(stack, section);
      if (m.refs[i].nx() != n || m.refs[i].ny() != n)
        throw InvalidInputError(stack + ": class image size differs from rlnOriginalImageSize " + std::to_string(n));
    }
    m.pk[i] = c.GetDouble(i, "rlnClassDistribution");
    m.acc_rot[i] = c.GetDouble(i, "rlnAccuracyRotations", 999);
    m.acc_trans_px[i] = c.GetDouble(i, "rlnAccuracyTranslationsAngst", 999) / m.pixel_size;
    m.est_resolution[i] = c.GetDouble(i, "rlnEstimatedResolution", 999);
    const StarTable& t = f.Require("model_class_" + std::to_string(i + 1));
    for (std::size_t r = 0; r < t.num_rows(); ++r) {
      const int s = static_cast<int>(t.GetInt(r, "rlnSpectralIndex"));
      if (s < 0 || s >= m.shells()) continue;
      m.tau2[i][s] = t.GetDouble(r, "rlnReferenceTau2");
      m.ssnr[i][s] = t.GetDouble(r, "rlnSsnrMap", 0);
      m.sigma2_ref[i][s] = t.GetDouble(r, "rlnReferenceSigma2", 0);
    }
  }
  // Noise: the particle-weighted mean over RELION's groups.
  std::vector<double> weight;
  if (const StarTable* groups = f.Find("model_groups"))
    for (std::size_t r = 0; r < groups->num_rows(); ++r) {
      weight.push_back(groups->GetDouble(r, "rlnGroupNrParticles", 1));
      Class2dGroup grp;
      grp.number = static_cast<int>(groups->GetInt(r, "rlnGroupNumber"));
      grp.name = groups->Has("rlnGroupName") ? groups->Get(r, "rlnGroupName") : "group_" + std::to_string(grp.number);
      grp.particles = static_cast<long>(weight.back());
      grp.scale = groups->GetDouble(r, "rlnGroupScaleCorrection", 1);
      if (!(grp.scale > 0)) grp.scale = 1;
      m.groups.push_back(grp);
    }
  std::vector<double> sum(m.shells(), 0.0);
  double wsum = 0;
  for (std::size_t gi = 0;; ++gi) {
    const StarTable* t = f.Find("model_group_" + std::to_string(gi + 1));
    if (!t) break;
    const double w = gi < weight.size() && weight[gi] > 0 ? weight[gi] : 1.0;
    for (std::size_t r = 0; r < t->num_rows(); ++r) {
      const int s = static_cast<int>(t->GetInt(r, "rlnSpectralIndex"));
      if (s >= 0 && s < m.shells()) sum[s] += w * t->GetDouble(r, "rlnSigma2Noise");
    }
    wsum += w;
  }
  if (wsum == 0) throw InvalidInputError(path + ": no data_model_group_N noise spectrum");
  for (int s = 0; s < m.shells(); ++s) m.sigma2_noise[s] = sum[s] / wsum;
  return m;
}

std::vector<ParticleState> StateFromParticles(const ParticleSet& set, double pixel_size) {
  std::vector<ParticleState> st(set.particles.size());
  for (std::size_t i = 0; i < st.size(); ++i) {
    const Particle& p = set.particles[i];
    st[i].class_number = p.class_number;
    st[i].rot = p.rot;
    st[i].tilt = p.tilt;
    st[i].psi = p.psi;
    st[i].offset_x = p.origin_x_angst / pixel_size;
    st[i].offset_y = p.origin_y_angst / pixel_size;
  }
  return st;
}

namespace {

// The rows of `t` as FormatStar writes them (values quoted where needed), without the header.
std::string FormatRows(const StarTable& t) {
  StarFile f;
  f.Add(t);
  const std::string text = FormatStar(f);
  // FormatStar: "\n# version V\n\ndata_NAME\n\nloop_ \n", one line per label, the rows, " \n".
  std::size_t pos = 0;
  for (std::size_t i = 0; i < 6 + t.labels().size(); ++i) pos = text.find('\n', pos) + 1;
  return text.substr(pos, text.size() - 2 - pos);
}

}  // namespace

void WriteDataStar(const std::string& path, const ParticleSet& set, const std::vector<ParticleState>& state,
                   double pixel_size, const std::vector<Class2dGroup>& groups) {
  // Written in blocks of particles, so the text and tables of all particles are never in memory.
  constexpr std::size_t kBlock = 1000;
  const std::string dir = ParentDir(set.source.path);
  const StarTable* src = set.source.Find(set.particles_block);
  const std::size_t n = state.size();
  bool any_fom = false, any_subset = false;
  const bool add_group = !groups.empty() && !(src && src->Has("rlnGroupNumber"));
  for (const Particle& p : set.particles) any_fom |= p.fom != 0, any_subset |= p.random_subset != 0;
  std::vector<std::string> labels;
  std::string head;
  WriteAtomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    for (std::size_t b0 = 0; b0 < std::max<std::size_t>(n, 1); b0 += kBlock) {
      const std::size_t b1 = std::min(n, b0 + kBlock);
      ParticleSet blk;
      blk.optics = set.optics;
      blk.particles_block = set.particles_block;
      blk.source.path = set.source.path;
      if (src) {
        StarTable& t = blk.source.Add(StarTable(src->name()));
        for (const std::string& l : src->labels()) t.AddColumn(l);
        for (std::size_t i = b0; i < b1; ++i) t.AddRow(src->row(i));
      }
      for (std::size_t i = b0; i < b1; ++i) {
        Particle p = set.particles[i];
        int index = 0;
        std::string stack;
        ParseImageName(p.image_name, dir, &index, &stack, set.source.path);
        p.image_name = MakeImageName(index, std::filesystem::absolute(stack).lexically_normal().string());
        p.class_number = state[i].class_number;
        p.rot = state[i].rot;
        p.tilt = state[i].tilt;
        p.psi = state[i].psi;
        p.origin_x_angst = state[i].offset_x * pixel_size;
        p.origin_y_angst = state[i].offset_y * pixel_size;
        blk.particles.push_back(p);
      }
      StarFile f = ParticlesToStar(blk, true);
      StarTable* t = f.Find(blk.particles_block);
      EMKIT_CHECK(t, "particles block missing");
      if (add_group) t->AddColumn("rlnGroupNumber");
      for (const char* l : {"rlnClassNumber", "rlnNormCorrection", "rlnLogLikeliContribution",
                            "rlnMaxValueProbDistribution", "rlnNrOfSignificantSamples"})
        t->AddColumn(l);
      for (std::size_t i = b0; i < b1; ++i) {
        if (add_group) t->Set(i - b0, "rlnGroupNumber", std::to_string(groups[state[i].group].number));
        t->Set(i - b0, "rlnClassNumber", std::to_string(state[i].class_number));
        t->Set(i - b0, "rlnNormCorrection", state[i].norm);
        t->Set(i - b0, "rlnLogLikeliContribution", state[i].loglik);
        t->Set(i - b0, "rlnMaxValueProbDistribution", state[i].pmax);
        t->Set(i - b0, "rlnNrOfSignificantSamples", std::to_string(state[i].nsig));
      }
      if (b0 == 0) {
        // The columns of the whole file: the first block's, and those another block may add.
        labels = t->labels();
        for (const char* l : {"rlnAutopickFigureOfMerit", "rlnRandomSubset"})
          if ((std::string(l) == "rlnAutopickFigureOfMerit" ? any_fom : any_subset) &&
              std::find(labels.begin(), labels.end(), l) == labels.end())
            labels.push_back(l);
        StarFile header = f;
        StarTable* ht = header.Find(blk.particles_block);
        *ht = StarTable(ht->name());
        for (const std::string& l : labels) ht->AddColumn(l);
        header.version = 30001;
        head = FormatStar(header);
        out << head.substr(0, head.size() - 2);  // without the particles block's closing " \n"
      }
      StarTable rows(t->name());
      for (const std::string& l : labels) rows.AddColumn(l);
      for (std::size_t r = 0; r < t->num_rows(); ++r) {
        std::vector<std::string> row;
        for (const std::string& l : labels) row.push_back(t->Has(l) ? t->Get(r, l) : "0");
        rows.AddRow(std::move(row));
      }
      out << FormatRows(rows);
    }
    out << " \n";
    if (!out) throw IoError(tmp + ": write failed");
  });
}

namespace {

constexpr char kStateMagic[8] = {'E', 'M', 'K', 'C', '2', 'D', 'S', '1'};

class StateWriter {
 public:
  template <class T>
  void Put(T v) {
    const auto* p = reinterpret_cast<const char*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof v);
  }
  void Put(const std::vector<double>& v) {
    for (double x : v) Put(x);
  }
  const std::vector<unsigned char>& bytes() const { return bytes_; }

 private:
  std::vector<unsigned char> bytes_;
};

class StateReader {
 public:
  StateReader(std::string path, std::string bytes) : path_(std::move(path)), bytes_(std::move(bytes)) {}
  template <class T>
  T Get() {
    if (pos_ + sizeof(T) > bytes_.size()) throw IoError(path_ + ": truncated class2d state");
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  void Get(std::vector<double>* v) {
    for (double& x : *v) x = Get<double>();
  }
  void Expect(long long got, long long want, const std::string& what) {
    if (got != want)
      throw InvalidInputError(path_ + ": " + what + " " + std::to_string(got) +
                              " differs from the model and data "
                              "STAR files beside it (" +
                              std::to_string(want) + ")");
  }
  bool AtEnd() const { return pos_ == bytes_.size(); }

 private:
  std::string path_, bytes_;
  std::size_t pos_ = 0;
};

}  // namespace

void WriteClass2dState(const std::string& path, int iteration, const Class2dModel& m,
                       const std::vector<ParticleState>& state) {
  StateWriter w;
  for (char c : kStateMagic) w.Put(c);
  w.Put<int32_t>(iteration);
  w.Put<int32_t>(m.classes);
  w.Put<int32_t>(m.box);
  w.Put<int32_t>(static_cast<int32_t>(m.groups.size()));
  w.Put<int64_t>(static_cast<int64_t>(state.size()));
  w.Put<int32_t>(m.current_size);
  for (double v : {m.current_resolution, m.tau2_fudge, m.sigma_offset_px, m.loglik, m.ave_pmax, m.avg_norm}) w.Put(v);
  w.Put(m.pk);
  w.Put(m.acc_rot);
  w.Put(m.acc_trans_px);
  w.Put(m.est_resolution);
  for (int k = 0; k < m.classes; ++k) {
    w.Put(m.tau2[k]);
    w.Put(m.sigma2_ref[k]);
    w.Put(m.ssnr[k]);
  }
  w.Put(m.sigma2_noise);
  for (const Class2dGroup& g : m.groups) w.Put(g.scale);
  for (const ParticleState& p : state) {
    for (double v : {p.psi, p.offset_x, p.offset_y, p.pmax, p.loglik, p.norm}) w.Put(v);
    w.Put<int32_t>(p.class_number);
    w.Put<int32_t>(p.nsig);
  }
  WriteBinaryFile(path, w.bytes());
}

void ReadClass2dState(const std::string& path, int iteration, Class2dModel* m, std::vector<ParticleState>* state) {
  StateReader r(path, ReadTextFile(path));
  for (char c : kStateMagic)
    if (r.Get<char>() != c) throw IoError(path + ": not an emkit class2d state file");
  r.Expect(r.Get<int32_t>(), iteration, "iteration");
  r.Expect(r.Get<int32_t>(), m->classes, "number of classes");
  r.Expect(r.Get<int32_t>(), m->box, "box");
  r.Expect(r.Get<int32_t>(), static_cast<long long>(m->groups.size()), "number of groups");
  r.Expect(r.Get<int64_t>(), static_cast<long long>(state->size()), "number of particles");
  m->current_size = r.Get<int32_t>();
  for (double* v :
       {&m->current_resolution, &m->tau2_fudge, &m->sigma_offset_px, &m->loglik, &m->ave_pmax, &m->avg_norm})
    *v = r.Get<double>();
  r.Get(&m->pk);
  r.Get(&m->acc_rot);
  r.Get(&m->acc_trans_px);
  r.Get(&m->est_resolution);
  for (int k = 0; k < m->classes; ++k) {
    r.Get(&m->tau2[k]);
    r.Get(&m->sigma2_ref[k]);
    r.Get(&m->ssnr[k]);
  }
  r.Get(&m->sigma2_noise);
  for (Class2dGroup& g : m->groups) g.scale = r.Get<double>();
  for (ParticleState& p : *state) {
    for (double* v : {&p.psi, &p.offset_x, &p.offset_y, &p.pmax, &p.loglik, &p.norm}) *v = r.Get<double>();
    p.class_number = r.Get<int32_t>();
    p.nsig = r.Get<int32_t>();
  }
  if (!r.AtEnd()) throw IoError(path + ": longer than a class2d state of this model");
}

void WriteOptimiserStar(const std::string& path, const OptimiserState& o, const std::string& command_line) {
  StarFile f;
  f.version = 30001;
  StarTable& t = f.Add(StarTable("optimiser_general", false));
  t.SetPair("rlnOutputRootName", JoinPath(ParentDir(path), "run"));
  t.SetPair("rlnModelStarFile", o.model_star);
  t.SetPair("rlnExperimentalDataStarFile", o.data_star);
  t.SetPair("rlnOrientSamplingStarFile", o.sampling_star);
  t.SetPair("rlnCurrentIteration", std::to_string(o.iteration));
  t.SetPair("rlnNumberOfIterations", std::to_string(o.iterations));
  t.SetPair("rlnDoSplitRandomHalves", "0");
  t.SetPair("rlnAdaptiveOversampleOrder", std::to_string(o.adaptive_oversampling));
  t.SetPair("rlnAdaptiveOversampleFraction", Num(0.999));
  t.SetPair("rlnIncrementImageSize", std::to_string(o.incr_size));
  t.SetPair("rlnHighresLimitExpectation", Num(o.strict_highres_exp > 0 ? o.strict_highres_exp : -1));
  t.SetPair("rlnRandomSeed", std::to_string(o.seed));
  t.SetPair("rlnParticleDiameter", Num(o.particle_diameter));
  t.SetPair("rlnWidthMaskEdge", "5");
  t.SetPair("rlnDoZeroMask", o.zero_mask ? "1" : "0");
  t.SetPair("rlnDoCorrectNorm", o.norm_correction ? "1" : "0");
  t.SetPair("rlnDoCorrectScale", o.scale_correction ? "1" : "0");
  t.SetPair("rlnDoCorrectCtf", o.ctf ? "1" : "0");
  t.SetPair("rlnDoIgnoreCtfUntilFirstPeak", o.ctf_intact_first_peak ? "1" : "0");
  t.SetPair("rlnDoOnlyFlipCtfPhases", o.only_flip_phases ? "1" : "0");
  t.SetPair("rlnCtfDataArePhaseFlipped", "0");
  t.SetPair("rlnRefsAreCtfCorrected", "1");
  WriteTextFile(path, "# emkit " + o.program + " optimiser\n# " + command_line + "\n" + FormatStar(f));
}

void WriteSamplingStar(const std::string& path, const OptimiserState& o, double pixel_size) {
  StarFile f;
  f.version = 30001;
  StarTable& t = f.Add(StarTable("sampling_general", false));
  t.SetPair("rlnIs3DSampling", "0");
  t.SetPair("rlnIs3DTranslationalSampling", "0");
  t.SetPair("rlnPsiStep", Num(o.psi_step));
  t.SetPair("rlnOffsetRange", Num(o.offset_range_px * pixel_size));
  t.SetPair("rlnOffsetStep", Num(o.offset_step_px * pixel_size));
  t.SetPair("rlnPsiStepOriginal", Num(o.psi_step));
  t.SetPair("rlnOffsetRangeOriginal", Num(o.offset_range_px * pixel_size));
  t.SetPair("rlnOffsetStepOriginal", Num(o.offset_step_px * pixel_size));
  WriteStar(path, f);
}

namespace {
// rlnHighresLimitExpectation (RELION: -1 when off) as emkit's 0-is-off value.
double StrictHighresExpOf(const StarTable& optimiser_general) {
  return std::max(0.0, optimiser_general.GetDouble(0, "rlnHighresLimitExpectation", -1));
}
}  // namespace

double ReadStrictHighresExp(const std::string& optimiser_star) {
  const StarFile f = ReadStar(optimiser_star);
  const StarTable* t = f.Find("optimiser_general");
  return t ? StrictHighresExpOf(*t) : 0.0;
}

OptimiserState ReadOptimiserStar(const std::string& path) {
  const StarFile f = ReadStar(path);
  const StarTable& t = f.Require("optimiser_general");
  OptimiserState o;
  o.iteration = static_cast<int>(t.GetInt(0, "rlnCurrentIteration"));
  o.iterations = static_cast<int>(t.GetDouble(0, "rlnNumberOfIterations", 0));
  o.seed = static_cast<unsigned long long>(t.GetDouble(0, "rlnRandomSeed", 0));
  o.model_star = ResolveNear(t.Get(0, "rlnModelStarFile"), path);
  o.data_star = ResolveNear(t.Get(0, "rlnExperimentalDataStarFile"), path);
  o.particle_diameter = t.GetDouble(0, "rlnParticleDiameter", 0);
  o.zero_mask = t.GetDouble(0, "rlnDoZeroMask", 0) != 0;
  o.ctf = t.GetDouble(0, "rlnDoCorrectCtf", 1) != 0;
  o.ctf_intact_first_peak = t.GetDouble(0, "rlnDoIgnoreCtfUntilFirstPeak", 0) != 0;
  o.only_flip_phases = t.GetDouble(0, "rlnDoOnlyFlipCtfPhases", 0) != 0;
  o.norm_correction = t.GetDouble(0, "rlnDoCorrectNorm", 0) != 0;
  o.scale_correction = t.GetDouble(0, "rlnDoCorrectScale", 0) != 0;
  o.incr_size = static_cast<int>(t.GetDouble(0, "rlnIncrementImageSize", 10));
  o.strict_highres_exp = StrictHighresExpOf(t);
  o.tau2_fudge = ReadStar(o.model_star).Require("model_general").GetDouble(0, "rlnTau2FudgeFactor", 2);
  if (t.Has("rlnOrientSamplingStarFile")) {
    o.sampling_star = ResolveNear(t.Get(0, "rlnOrientSamplingStarFile"), path);
    const StarFile sf = ReadStar(o.sampling_star);
    const StarTable& s = sf.Require("sampling_general");
    const double pix = ReadStar(o.model_star).Require("model_general").GetDouble(0, "rlnPixelSize");
    o.psi_step = s.GetDouble(0, "rlnPsiStepOriginal", s.GetDouble(0, "rlnPsiStep"));
    o.offset_range_px = s.GetDouble(0, "rlnOffsetRangeOriginal", s.GetDouble(0, "rlnOffsetRange")) / pix;
    o.offset_step_px = s.GetDouble(0, "rlnOffsetStepOriginal", s.GetDouble(0, "rlnOffsetStep")) / pix;
  }
  return o;
}

void WriteClassMontage(const std::string& path, const Class2dModel& m) {
  std::vector<int> order(m.classes);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return m.pk[a] > m.pk[b]; });
  // Each tile says which class it is, its share of the particles and its resolution.
  std::vector<Image> tiles;
  std::vector<std::string> captions;
  for (int k : order) {
    tiles.push_back(m.refs[k]);
    char text[64];
    std::snprintf(text, sizeof text, "#%d %.1f%%\n%.1f A", k + 1, 100 * m.pk[k], m.est_resolution[k]);
    captions.push_back(text);
  }
  WriteLabelledMontage(path, tiles, captions, std::min(m.classes, 10));
}

}  // namespace emkit
