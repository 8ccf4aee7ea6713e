#include "core/ctf.h"

#include <cmath>
#include <string>

#include "core/error.h"

namespace emkit {

void CtfParams::Check() const {
  auto bad = [](const std::string& field, double v, const std::string& why) {
    throw InvalidInputError("CTF parameter " + field + " = " + std::to_string(v) + ": " + why);
  };
  if (!(voltage_kv > 0 && voltage_kv < 5000)) bad("rlnVoltage", voltage_kv, "must be in (0, 5000) kV");
  if (!(cs_mm >= 0 && cs_mm < 100)) bad("rlnSphericalAberration", cs_mm, "must be in [0, 100) mm");
  if (!(amplitude_contrast >= 0 && amplitude_contrast < 1))
    bad("rlnAmplitudeContrast", amplitude_contrast, "must be in [0, 1)");
  if (!std::isfinite(defocus_u)) bad("rlnDefocusU", defocus_u, "must be finite");
  if (!std::isfinite(defocus_v)) bad("rlnDefocusV", defocus_v, "must be finite");
  if (!std::isfinite(defocus_angle)) bad("rlnDefocusAngle", defocus_angle, "must be finite");
  if (!std::isfinite(phase_shift)) bad("rlnPhaseShift", phase_shift, "must be finite");
  if (!std::isfinite(bfactor)) bad("rlnCtfBfactor", bfactor, "must be finite");
}

double ElectronWavelength(double volts) { return 12.2643247 / std::sqrt(volts * (1.0 + volts * 0.978466e-6)); }

Ctf::Ctf(const CtfParams& p) : p_(p) {
  p_.Check();
  lambda_ = ElectronWavelength(p.voltage_kv * 1e3);
  const double cs = p.cs_mm * 1e7;
  k1_ = M_PI * lambda_;
  k2_ = M_PI / 2.0 * cs * lambda_ * lambda_ * lambda_;
  k3_ = std::atan(p.amplitude_contrast / std::sqrt(1.0 - p.amplitude_contrast * p.amplitude_contrast));
  k4_ = -p.bfactor / 4.0;
  k5_ = p.phase_shift * M_PI / 180.0;
  // RELION keeps defocus negative internally.
  def_avg_ = -(p.defocus_u + p.defocus_v) * 0.5;
  def_dev_ = -(p.defocus_u - p.defocus_v) * 0.5;
  cos2_az_ = std::cos(2.0 * p.defocus_angle * M_PI / 180.0);
  sin2_az_ = std::sin(2.0 * p.defocus_angle * M_PI / 180.0);
}

double Ctf::Value(double kx, double ky) const {
  const double u2 = kx * kx + ky * ky;
  const double u4 = u2 * u2;
  // cos(2 (atan2(ky, kx) - azimuth)) without trigonometry per pixel.
  const double cos2 = u2 > 0 ? ((kx * kx - ky * ky) * cos2_az_ + 2 * kx * ky * sin2_az_) / u2 : 1.0;
  const double deltaf = def_avg_ + def_dev_ * cos2;
  const double gamma = k1_ * deltaf * u2 + k2_ * u4 - k5_ - k3_;
  double v = -std::sin(gamma);
  if (p_.bfactor != 0) v *= std::exp(k4_ * u2);
  return v * p_.scale;
}

Grid<float> Ctf::HalfImage(int n, double pixel_size) const {
  Grid<float> out(n / 2 + 1, n, 1);
  const double inv = 1.0 / (n * pixel_size);
  for (int y = 0; y < n; ++y) {
    const int ky = FourierGrid::Freq(y, n);
    for (int x = 0; x <= n / 2; ++x) out(x, y) = static_cast<float>(Value(x * inv, ky * inv));
  }
  return out;
}

Image Ctf::CentredImage(int n, double pixel_size) const {
  Image out(n, n, 1);
  const double inv = 1.0 / (n * pixel_size);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) out(x, y) = static_cast<float>(Value((x - n / 2) * inv, (y - n / 2) * inv));
  return out;
}

}  // namespace emkit
