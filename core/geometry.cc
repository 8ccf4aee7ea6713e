#include "core/geometry.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/error.h"

namespace emkit {
namespace {
constexpr double kDeg = M_PI / 180.0;
}

Mat3 Mat3::Transposed() const {
  Mat3 t;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) t(r, c) = (*this)(c, r);
  return t;
}

Mat3 Mat3::AxisAngle(double ax, double ay, double az, double angle_deg) {
  const double n = std::sqrt(ax * ax + ay * ay + az * az);
  ax /= n;
  ay /= n;
  az /= n;
  const double c = std::cos(angle_deg * kDeg), s = std::sin(angle_deg * kDeg), t = 1 - c;
  Mat3 r;
  r.m = {t * ax * ax + c,      t * ax * ay - s * az, t * ax * az + s * ay, t * ax * ay + s * az, t * ay * ay + c,
         t * ay * az - s * ax, t * ax * az - s * ay, t * ay * az + s * ax, t * az * az + c};
  return r;
}

Mat3 operator*(const Mat3& a, const Mat3& b) {
  Mat3 r;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) r(i, j) = a(i, 0) * b(0, j) + a(i, 1) * b(1, j) + a(i, 2) * b(2, j);
  return r;
}

std::array<double, 3> operator*(const Mat3& a, const std::array<double, 3>& v) {
  return {a(0, 0) * v[0] + a(0, 1) * v[1] + a(0, 2) * v[2], a(1, 0) * v[0] + a(1, 1) * v[1] + a(1, 2) * v[2],
          a(2, 0) * v[0] + a(2, 1) * v[1] + a(2, 2) * v[2]};
}

double MaxAbsDifference(const Mat3& a, const Mat3& b) {
  double d = 0;
  for (int i = 0; i < 9; ++i) d = std::max(d, std::fabs(a.m[i] - b.m[i]));
  return d;
}

Mat3 EulerToMatrix(const Euler& e) {
  const double ca = std::cos(e.rot * kDeg), sa = std::sin(e.rot * kDeg);
  const double cb = std::cos(e.tilt * kDeg), sb = std::sin(e.tilt * kDeg);
  const double cg = std::cos(e.psi * kDeg), sg = std::sin(e.psi * kDeg);
  const double cc = cb * ca, cs = cb * sa, sc = sb * ca, ss = sb * sa;
  Mat3 a;
  a.m = {cg * cc - sg * sa,
         cg * cs + sg * ca,
         -cg * sb,  //
         -sg * cc - cg * sa,
         -sg * cs + cg * ca,
         sg * sb,  //
         sc,
         ss,
         cb};
  return a;
}

Euler MatrixToEuler(const Mat3& a) {
  // As RELION's Euler_matrix2angles.
  Euler e;
  const double abs_sb = std::sqrt(a(0, 2) * a(0, 2) + a(1, 2) * a(1, 2));
  double alpha, beta, gamma;
  if (abs_sb > 16 * 1e-6) {
    gamma = std::atan2(a(1, 2), -a(0, 2));
    alpha = std::atan2(a(2, 1), a(2, 0));
    double sign_sb;
    if (std::fabs(std::sin(gamma)) < 1e-6)
      sign_sb = (-a(0, 2) / std::cos(gamma)) >= 0 ? 1 : -1;
    else
      sign_sb = (std::sin(gamma) > 0) ? (a(1, 2) >= 0 ? 1 : -1) : (a(1, 2) >= 0 ? -1 : 1);
    beta = std::atan2(sign_sb * abs_sb, a(2, 2));
  } else {
    if (a(2, 2) >= 0) {
      alpha = 0;
      beta = 0;
      gamma = std::atan2(-a(1, 0), a(0, 0));
    } else {
      alpha = 0;
      beta = M_PI;
      gamma = std::atan2(a(1, 0), -a(0, 0));
    }
  }
  e.rot = alpha / kDeg;
  e.tilt = beta / kDeg;
  e.psi = gamma / kDeg;
  return e;
}

std::array<double, 3> ViewingDirection(const Euler& e) {
  const Mat3 a = EulerToMatrix(e);
  return {a(2, 0), a(2, 1), a(2, 2)};
}

double AngleBetween(const std::array<double, 3>& a, const std::array<double, 3>& b) {
  const double d = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  const double na = std::sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
  const double nb = std::sqrt(b[0] * b[0] + b[1] * b[1] + b[2] * b[2]);
  return std::acos(std::clamp(d / (na * nb), -1.0, 1.0)) / kDeg;
}

Image TransformImage(const Image& in, const Mat3& m, double shift_x, double shift_y, float outside) {
  const int nx = in.nx(), ny = in.ny();
  Image out(nx, ny, 1);
  const double cx = nx / 2, cy = ny / 2;
  for (int y = 0; y < ny; ++y) {
    for (int x = 0; x < nx; ++x) {
      const double px = x - cx - shift_x, py = y - cy - shift_y;
      const double sx = m(0, 0) * px + m(0, 1) * py + cx;
      const double sy = m(1, 0) * px + m(1, 1) * py + cy;
      const int x0 = static_cast<int>(std::floor(sx)), y0 = static_cast<int>(std::floor(sy));
      const double fx = sx - x0, fy = sy - y0;
      auto at = [&](int xx, int yy) -> double {
        return (xx < 0 || yy < 0 || xx >= nx || yy >= ny) ? outside : in(xx, yy);
      };
      if (x0 < -1 || y0 < -1 || x0 >= nx || y0 >= ny) {
        out(x, y) = outside;
        continue;
      }
      const double v = (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) +
                       fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
      out(x, y) = static_cast<float>(v);
    }
  }
  return out;
}

Image RotateImage(const Image& in, double psi_deg, double shift_x, double shift_y) {
  return TransformImage(in, EulerToMatrix({0, 0, psi_deg}).Transposed(), shift_x, shift_y);
}

FourierGrid RotateFourier(const FourierGrid& in, double psi_deg) {
  const int n = in.logical_nx();
  EMKIT_CHECK(!in.is_3d() && in.logical_ny() == n, "RotateFourier needs a square 2D transform");
  FourierGrid out(n, n, 1);
  const Mat3 a = EulerToMatrix({0, 0, psi_deg});
  const double rmax2 = double(n / 2) * double(n / 2);
  // Sample in(k') with k' = A^T k; values at negative kx come from the Hermitian conjugate.
  auto sample = [&](int kx, int ky) -> Complex {
    const bool conjugate = kx < 0;
    if (conjugate) {
      kx = -kx;
      ky = -ky;
    }
    if (kx > n / 2 || ky >= n / 2 || ky < -n / 2) return Complex(0, 0);
    return conjugate ? std::conj(in.At(kx, ky)) : in.At(kx, ky);
  };
  for (int y = 0; y < n; ++y) {
    const int ky = FourierGrid::Freq(y, n);
    for (int kx = 0; kx <= n / 2; ++kx) {
      if (double(kx) * kx + double(ky) * ky > rmax2) continue;
      const double sx = a(0, 0) * kx + a(1, 0) * ky;
      const double sy = a(0, 1) * kx + a(1, 1) * ky;
      const int x0 = static_cast<int>(std::floor(sx)), y0 = static_cast<int>(std::floor(sy));
      const float fx = static_cast<float>(sx - x0), fy = static_cast<float>(sy - y0);
      const Complex v = (1 - fy) * ((1 - fx) * sample(x0, y0) + fx * sample(x0 + 1, y0)) +
                        fy * ((1 - fx) * sample(x0, y0 + 1) + fx * sample(x0 + 1, y0 + 1));
      out.At(kx, ky) = v;
    }
  }
  return out;
}

void ShiftFourier(FourierGrid* g, double sx, double sy, double sz) {
  const int nx = g->logical_nx(), ny = g->logical_ny(), nz = g->logical_nz();
  for (int z = 0; z < nz; ++z) {
    const double kz = nz > 1 ? double(FourierGrid::Freq(z, nz)) / nz : 0;
    for (int y = 0; y < ny; ++y) {
      const double ky = double(FourierGrid::Freq(y, ny)) / ny;
      for (int x = 0; x < g->half_nx(); ++x) {
        const double phase = -2 * M_PI * (x * sx / nx + ky * sy + kz * sz);
        g->grid()(x, y, z) *= Complex(static_cast<float>(std::cos(phase)), static_cast<float>(std::sin(phase)));
      }
    }
  }
}

SymmetryGroup::SymmetryGroup(const std::string& name_in) {
  std::string name = name_in;
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  name_ = name;
  std::vector<Mat3> gens;
  auto order_of = [&](const std::string& s) {
    if (s.size() < 2) throw InvalidInputError("symmetry '" + name_in + "': C and D need an order, e.g. C4");
    for (std::size_t i = 1; i < s.size(); ++i)
      if (!std::isdigit(static_cast<unsigned char>(s[i])))
        throw InvalidInputError("symmetry '" + name_in + "': not a point group (C<n>, D<n>, T, O, I)");
    const int n = std::stoi(s.substr(1));
    if (n < 1 || n > 1000) throw InvalidInputError("symmetry '" + name_in + "': order out of range");
    return n;
  };
  if (name[0] == 'C') {
    gens.push_back(Mat3::AxisAngle(0, 0, 1, 360.0 / order_of(name)));
  } else if (name[0] == 'D') {
    gens.push_back(Mat3::AxisAngle(0, 0, 1, 360.0 / order_of(name)));
    gens.push_back(Mat3::AxisAngle(1, 0, 0, 180));
  } else if (name == "T") {
    gens.push_back(Mat3::AxisAngle(0, 0, 1, 120));
    gens.push_back(Mat3::AxisAngle(0, std::sqrt(2.0 / 3.0), std::sqrt(1.0 / 3.0), 180));
  } else if (name == "O") {
    gens.push_back(Mat3::AxisAngle(0, 0, 1, 90));
    gens.push_back(Mat3::AxisAngle(1, 1, 1, 120));
  } else if (name == "I" || name == "I2") {
    // RELION's default icosahedral setting (I2, Crowther): 2-fold along z, a 5-fold in the
    // (x, z) plane at atan(1/phi) from z... expressed by its matrix.
    const double phi = (1 + std::sqrt(5.0)) / 2;
    Mat3 five;
    five.m = {0.5, phi / 2, 1 / (2 * phi), -phi / 2, 1 / (2 * phi), 0.5, 1 / (2 * phi), -0.5, phi / 2};
    gens.push_back(Mat3::AxisAngle(0, 0, 1, 180));
    gens.push_back(five);
  } else {
    throw InvalidInputError("symmetry '" + name_in + "': not a point group (C<n>, D<n>, T, O, I)");
  }
  // Close the set under multiplication.
  ops_.push_back(Mat3::Identity());
  auto known = [&](const Mat3& m) {
    for (const auto& o : ops_)
      if (MaxAbsDifference(o, m) < 1e-6) return true;
    return false;
  };
  for (std::size_t i = 0; i < ops_.size(); ++i) {
    for (const auto& g : gens) {
      const Mat3 p = ops_[i] * g;
      if (!known(p)) ops_.push_back(p);
      if (ops_.size() > 2000) throw InternalError("symmetry group did not close");
    }
  }
}

}  // namespace emkit
