// RELION's geometry: ZYZ Euler angles (rot, tilt, psi) in degrees, XMIPP matrix
// convention (src/euler.cpp), in-plane rotation of images, and point-group symmetry.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "core/image.h"

namespace emkit {

struct Mat3 {
  std::array<double, 9> m{1, 0, 0, 0, 1, 0, 0, 0, 1};
  double& operator()(int r, int c) { return m[r * 3 + c]; }
  double operator()(int r, int c) const { return m[r * 3 + c]; }
  Mat3 Transposed() const;
  static Mat3 Identity() { return Mat3(); }
  // Rotation by angle (degrees) about a unit axis, right-handed.
  static Mat3 AxisAngle(double ax, double ay, double az, double angle_deg);
};
Mat3 operator*(const Mat3& a, const Mat3& b);
std::array<double, 3> operator*(const Mat3& a, const std::array<double, 3>& v);
double MaxAbsDifference(const Mat3& a, const Mat3& b);

struct Euler {
  double rot = 0, tilt = 0, psi = 0;  // degrees
};

// A such that a map's projection in this orientation has 2D transform V(A^T (kx, ky, 0)).
Mat3 EulerToMatrix(const Euler& e);
// Inverse of EulerToMatrix (RELION's Euler_matrix2angles): tilt in [0, 180].
Euler MatrixToEuler(const Mat3& a);
// Viewing direction: third row of A.
std::array<double, 3> ViewingDirection(const Euler& e);
// Angle (degrees) between two unit vectors.
double AngleBetween(const std::array<double, 3>& a, const std::array<double, 3>& b);

// out(x) = in(M (x - c) + c - shift) for the 2x2 part of M, bilinear, around c = (n/2, n/2).
// With M = EulerToMatrix({0,0,psi})^T this is RELION's in-plane rotation by psi.
// Pixels falling outside become `outside`.
Image TransformImage(const Image& in, const Mat3& m, double shift_x = 0, double shift_y = 0, float outside = 0);
// In-plane rotation as RELION applies psi to a 2D reference, then translation by (sx, sy) px.
Image RotateImage(const Image& in, double psi_deg, double shift_x = 0, double shift_y = 0);

// The same rotation in Fourier space: out(k) = in(A^T k), bilinear on the Hermitian half,
// up to the Nyquist circle. `in` must come from CentredFft so the image turns about its centre.
FourierGrid RotateFourier(const FourierGrid& in, double psi_deg);
// Multiplies by exp(-2 pi i k.s / n): shifts the real image by (sx, sy) pixels.
void ShiftFourier(FourierGrid* g, double sx, double sy, double sz = 0);

// Point groups with RELION's axis conventions: C<n>, D<n> (2-fold along x), T, O, I (=I2).
class SymmetryGroup {
 public:
  explicit SymmetryGroup(const std::string& name);
  const std::string& name() const { return name_; }
  const std::vector<Mat3>& matrices() const { return ops_; }
  int order() const { return static_cast<int>(ops_.size()); }

 private:
  std::string name_;
  std::vector<Mat3> ops_;
};

}  // namespace emkit
