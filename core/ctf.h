// The contrast transfer function exactly as RELION 3.1 computes it (src/ctf.cpp):
//   CTF(k) = -sin(gamma) * exp(-B k^2 / 4) * scale,
//   gamma  = -pi lambda df(theta) k^2 + pi/2 Cs lambda^3 k^4 - phase_shift - atan(Q / sqrt(1 - Q^2)),
// with df positive for underfocus and df(theta) the astigmatic ellipse.
#pragma once

#include "core/image.h"

namespace emkit {

struct CtfParams {
  double voltage_kv = 300;          // rlnVoltage
  double cs_mm = 2.7;               // rlnSphericalAberration
  double amplitude_contrast = 0.1;  // rlnAmplitudeContrast
  double defocus_u = 15000;         // rlnDefocusU (Å, positive = underfocus)
  double defocus_v = 15000;         // rlnDefocusV
  double defocus_angle = 0;         // rlnDefocusAngle (degrees, from X to U)
  double phase_shift = 0;           // rlnPhaseShift (degrees)
  double bfactor = 0;               // rlnCtfBfactor (Å^2)
  double scale = 1;                 // rlnCtfScalefactor

  void Check() const;  // throws InvalidInputError naming the bad field
};

// Relativistic electron wavelength in Å for an acceleration voltage in volts.
double ElectronWavelength(double volts);

class Ctf {
 public:
  explicit Ctf(const CtfParams& p);

  // CTF at spatial frequency (kx, ky) in 1/Å.
  double Value(double kx, double ky) const;
  const CtfParams& params() const { return p_; }

  // CTF sampled on the Hermitian half of an n x n image with the given pixel size (Å),
  // laid out like FourierGrid (kx = 0..n/2, ky in FFT order). Real values.
  Grid<float> HalfImage(int n, double pixel_size) const;
  // Same on a full, centred n x n image (origin at n/2), handy for pictures.
  Image CentredImage(int n, double pixel_size) const;

 private:
  CtfParams p_;
  double lambda_, k1_, k2_, k3_, k4_, k5_, def_avg_, def_dev_, cos2_az_, sin2_az_;
};

}  // namespace emkit
