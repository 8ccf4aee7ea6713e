#include "core/projector.h"

#include <cmath>
#include <complex>

#include "core/error.h"
#include "core/fft.h"

namespace emkit {

double LinearInterpolationSinc2(double x, double m) {
  const double a = M_PI * x / m;
  if (std::fabs(a) < 1e-9) return 1;
  const double s = std::sin(a) / a;
  return s * s;
}

void GriddingCorrect(Volume* v, double padded_size) {
  const int n = v->nx(), c = n / 2;
  for (int z = 0; z < v->nz(); ++z)
    for (int y = 0; y < v->ny(); ++y)
      for (int x = 0; x < n; ++x) {
        const double r = std::sqrt(double(x - c) * (x - c) + double(y - c) * (y - c) + double(z - c) * (z - c));
        if (r > 0) (*v)(x, y, z) = static_cast<float>((*v)(x, y, z) / LinearInterpolationSinc2(r, padded_size));
      }
}

Projector::Projector(const Volume& map, double pixel_size, const ProjectorOptions& opt)
    : n_(map.nx()), pixel_size_(pixel_size) {
  if (map.nx() != map.ny() || map.nx() != map.nz())
    throw InvalidInputError("projector: the map must be a cube, got " + std::to_string(map.nx()) + "x" +
                            std::to_string(map.ny()) + "x" + std::to_string(map.nz()));
  if (n_ < 2) throw InvalidInputError("projector: map too small");
  if (!(pixel_size > 0)) throw InvalidInputError("projector: pixel size must be > 0");
  if (opt.padding < 1 || opt.padding > 4) throw InvalidInputError("projector: padding must be 1..4");
  padded_ = opt.padding * n_;
  padded_ += padded_ % 2;
  Volume pad(padded_, padded_, padded_, 0.0f);
  const int c = n_ / 2, pc = padded_ / 2, off = pc - c;
  for (int z = 0; z < n_; ++z)
    for (int y = 0; y < n_; ++y)
      for (int x = 0; x < n_; ++x) {
        double v = map(x, y, z);
        if (opt.gridding_correction) {
          // RELION's griddingCorrect: trilinear interpolation in Fourier space multiplies the
          // real-space map by sinc^2(r / padded size); divide it out beforehand.
          const double r = std::sqrt(double(x - c) * (x - c) + double(y - c) * (y - c) + double(z - c) * (z - c));
          if (r > 0) v /= LinearInterpolationSinc2(r, padded_);
        }
        // Wrapped so the map centre sits at voxel 0: the plain transform is then the centred
        // one (no phase ramp to apply over the whole padded volume).
        pad((x + off + pc) % padded_, (y + off + pc) % padded_, (z + off + pc) % padded_) = static_cast<float>(v);
      }
  data_ = Fft(pad);
  // CentredFft divides by padded^3; a 2D transform of an n x n projection divides by n^2.
  const float scale = static_cast<float>(double(padded_) * padded_ * padded_ / (double(n_) * n_));
  for (auto& v : data_.grid()) v *= scale;
  if (!(opt.max_radius >= 0 && opt.max_radius <= n_))
    throw InvalidInputError("projector: max_radius must be in [0, map size]");
  max_radius_ = opt.max_radius;
  // A sample within max_radius (padded radius max_radius x padded / n) reads neighbours up to one
  // pixel further in each axis: those are kept, so projections within it are unchanged.
  const int r = static_cast<int>(std::ceil(max_radius_ * padded_ / n_)) + 2;
  if (max_radius_ > 0 && r < padded_ / 2) {
    const int side = 2 * r + 1;
    crop_.assign(static_cast<std::size_t>(side) * side * (r + 1), Complex(0, 0));
    for (int z = -r; z <= r; ++z)
      for (int y = -r; y <= r; ++y)
        for (int x = 0; x <= r; ++x)
          crop_[(static_cast<std::size_t>(z + r) * side + (y + r)) * (r + 1) + x] = data_.At(x, y, z);
    cropped_ = true;
    crop_r_ = r;
    data_ = FourierGrid();
  }
}

Complex Projector::Stored(int x, int y, int z) const {
  if (cropped_) {
    const int r = crop_r_, side = 2 * r + 1;
    if (x < 0 || x > r || y < -r || y > r || z < -r || z > r) return Complex(0, 0);
    return crop_[(static_cast<std::size_t>(z + r) * side + (y + r)) * (r + 1) + x];
  }
  const int half = padded_ / 2;
  if (x < 0 || x > half || y < -half || y >= half || z < -half || z >= half) return Complex(0, 0);
  return data_.At(x, y, z);
}

double Projector::LimitRadius(int box) const {
  const double step = double(padded_) / box;
  const double nyquist = (padded_ / 2) / step;  // the map's Nyquist frequency in output pixels
  return max_radius_ > 0 ? std::min(nyquist, max_radius_ * box / n_) : nyquist;
}

std::vector<double> Projector::PowerSpectrum(int max_shell) const {
  const int ns = n_ / 2 + 1, half = padded_ / 2;
  const double pad = double(padded_) / n_;
  const long rp = std::lround(max_shell * pad), max_r2 = rp * rp;
  EMKIT_CHECK(!cropped_ || rp <= crop_r_, "the power spectrum within the projector's max_radius");
  std::vector<double> power(ns, 0.0), count(ns, 0.0);
  for (int z = -half; z < half; ++z)
    for (int y = -half; y < half; ++y)
      for (int x = 0; x <= half; ++x) {
        const long r2 = long(x) * x + long(y) * y + long(z) * z;
        if (r2 > max_r2) continue;
        const int ires = static_cast<int>(std::lround(std::sqrt(double(r2)) / pad));
        if (ires >= ns) continue;
        power[ires] += std::norm(std::complex<double>(Stored(x, y, z))) / 2;
        count[ires] += 1;
      }
  for (int i = 0; i < ns; ++i) power[i] = count[i] >= 1 ? power[i] / count[i] : 0.0;
  return power;
}

namespace {
// Trilinear interpolation of the 8 neighbours c[z][y][x] at fractions fx, fy, fz (one form for
// every path, so that they give the same values).
inline __attribute__((always_inline)) Complex Trilinear(const Complex (&c)[2][2][2], float fx, float fy, float fz) {
  const Complex c00 = c[0][0][0] * (1 - fx) + c[0][0][1] * fx;
  const Complex c10 = c[0][1][0] * (1 - fx) + c[0][1][1] * fx;
  const Complex c01 = c[1][0][0] * (1 - fx) + c[1][0][1] * fx;
  const Complex c11 = c[1][1][0] * (1 - fx) + c[1][1][1] * fx;
  return (c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz;
}
}  // namespace

inline Complex Projector::Sample(double x, double y, double z) const {
  bool conjugate = false;
  if (x < 0) {
    x = -x;
    y = -y;
    z = -z;
    conjugate = true;
  }
  const int x0 = static_cast<int>(std::floor(x)), y0 = static_cast<int>(std::floor(y)),
            z0 = static_cast<int>(std::floor(z));
  const float fx = static_cast<float>(x - x0), fy = static_cast<float>(y - y0), fz = static_cast<float>(z - z0);
  // The 8 neighbours' offsets in the stored layout: the wrapped one of FourierGrid::At or the
  // cropped cube's; -1: outside what is stored (zero).
  const int half = cropped_ ? crop_r_ : padded_ / 2, n = cropped_ ? 2 * crop_r_ + 1 : padded_;
  const int hx = cropped_ ? crop_r_ + 1 : data_.half_nx();
  auto row = [&](int k) -> long {
    if (cropped_) return k < -half || k > half ? -1 : k + half;
    return k < -half || k >= half ? -1 : (k < 0 ? k + n : k);
  };
  const long ry[2] = {row(y0), row(y0 + 1)}, rz[2] = {row(z0), row(z0 + 1)};
  const bool inx[2] = {x0 <= half, x0 + 1 <= half};
  const Complex* d = cropped_ ? crop_.data() : data_.data();
  auto at = [&](int ix, int iy, int iz) -> Complex {
    if (!inx[ix] || ry[iy] < 0 || rz[iz] < 0) return Complex(0, 0);
    return d[(rz[iz] * n + ry[iy]) * hx + x0 + ix];
  };
  const Complex c[2][2][2] = {{{at(0, 0, 0), at(1, 0, 0)}, {at(0, 1, 0), at(1, 1, 0)}},
                              {{at(0, 0, 1), at(1, 0, 1)}, {at(0, 1, 1), at(1, 1, 1)}}};
  const Complex v = Trilinear(c, fx, fy, fz);
  return conjugate ? std::conj(v) : v;
}

FourierGrid Projector::Slice(const Mat3& a, int box, double out_pixel_size, double max_radius) const {
  if (box < 2) throw InvalidInputError("projector: output box must be >= 2");
  if (!(out_pixel_size > 0)) throw InvalidInputError("projector: output pixel size must be > 0");
  FourierGrid out(box, box, 1);
  // Output frequency index k (cycles per box) is k / (box * p_out) 1/Å, which is
  // k * padded * p_map / (box * p_out) in units of the padded map's Fourier pixels.
  const double step = double(padded_) * pixel_size_ / (box * out_pixel_size);
  // The map's Nyquist frequency (or its max_radius) in padded Fourier pixels.
  const double map_limit = max_radius_ > 0 ? std::min<double>(padded_ / 2, max_radius_ * padded_ / n_) : padded_ / 2;
  const double out_r = max_radius > 0 ? std::min<double>(box / 2, max_radius) : box / 2;
  const double r_max2 = std::min(out_r * out_r, (map_limit / step) * (map_limit / step));
  // Coefficients of a 2D transform divide by the pixel count: (n p_map / (box p_out))^2 for
  // the same physical frequency; p_map / p_out from summing voxels of the resampled map.
  const double area = double(n_) * pixel_size_ / (double(box) * out_pixel_size);
  const float scale = static_cast<float>(area * area * pixel_size_ / out_pixel_size);
  for (int y = 0; y < box; ++y) {
    const int ky = FourierGrid::Freq(y, box);
    for (int kx = 0; kx <= box / 2; ++kx) {
      if (double(kx) * kx + double(ky) * ky > r_max2) continue;
      const double px = (a(0, 0) * kx + a(1, 0) * ky) * step;
      const double py = (a(0, 1) * kx + a(1, 1) * ky) * step;
      const double pz = (a(0, 2) * kx + a(1, 2) * ky) * step;
      out.At(kx, ky) = Sample(px, py, pz) * scale;
    }
  }
  return out;
}

void Projector::SliceAt(const Mat3& a, int box, const int* kx, const int* ky, int count, Complex* out) const {
  const double step = double(padded_) / box;
  const double limit = LimitRadius(box);
  const double r_max2 = limit * limit;
  const double area = double(n_) / box;
  const float scale = static_cast<float>(area * area);
  // Cropped to max_radius: every neighbour of a sample within the limit is stored (the crop
  // reaches 2 padded pixels beyond it), so no bounds to check; the same values as Sample.
  const bool inside = cropped_ && limit * step + 1 < crop_r_;
  const int side = 2 * crop_r_ + 1, hx = crop_r_ + 1;
  const std::ptrdiff_t sy = hx, sz = static_cast<std::ptrdiff_t>(side) * hx;
  const Complex* origin = inside ? crop_.data() + crop_r_ * sz + crop_r_ * sy : nullptr;
  for (int i = 0; i < count; ++i) {
    const double x = kx[i], y = ky[i];
    if (x * x + y * y > r_max2) {
      out[i] = Complex(0, 0);
      continue;
    }
    double px = (a(0, 0) * x + a(1, 0) * y) * step;
    double py = (a(0, 1) * x + a(1, 1) * y) * step;
    double pz = (a(0, 2) * x + a(1, 2) * y) * step;
    if (!inside) {
      out[i] = Sample(px, py, pz) * scale;
      continue;
    }
    const bool conjugate = px < 0;
    if (conjugate) px = -px, py = -py, pz = -pz;
    const int x0 = static_cast<int>(std::floor(px)), y0 = static_cast<int>(std::floor(py)),
              z0 = static_cast<int>(std::floor(pz));
    const float fx = static_cast<float>(px - x0), fy = static_cast<float>(py - y0), fz = static_cast<float>(pz - z0);
    const Complex* b = origin + z0 * sz + y0 * sy + x0;
    const Complex c[2][2][2] = {{{b[0], b[1]}, {b[sy], b[sy + 1]}}, {{b[sz], b[sz + 1]}, {b[sz + sy], b[sz + sy + 1]}}};
    const Complex v = Trilinear(c, fx, fy, fz);
    out[i] = (conjugate ? std::conj(v) : v) * scale;
  }
}

void MultiplyByCtf(FourierGrid* g, const Ctf& ctf, double pixel_size) {
  EMKIT_CHECK(!g->is_3d() && g->logical_nx() == g->logical_ny(), "MultiplyByCtf needs a square 2D transform");
  const Grid<float> c = ctf.HalfImage(g->logical_nx(), pixel_size);
  for (std::size_t i = 0; i < c.size(); ++i) g->data()[i] *= c[i];
}

Image Projector::Project(const Euler& e, int box, double out_pixel_size, double shift_x, double shift_y,
                         const Ctf* ctf) const {
  FourierGrid f = Slice(EulerToMatrix(e), box, out_pixel_size);
  if (shift_x != 0 || shift_y != 0) ShiftFourier(&f, shift_x, shift_y);
  if (ctf) MultiplyByCtf(&f, *ctf, out_pixel_size);
  return InverseCentredFft(f);
}

Image RealSpaceProject(const Volume& map, const Euler& e, int oversampling) {
  const int n = map.nx();
  const Mat3 a = EulerToMatrix(e);
  const double c = n / 2;
  Image out(n, n, 1);
  const double dt = 1.0 / oversampling;
  auto value = [&](double x, double y, double z) -> double {
    const int x0 = static_cast<int>(std::floor(x)), y0 = static_cast<int>(std::floor(y)),
              z0 = static_cast<int>(std::floor(z));
    const double fx = x - x0, fy = y - y0, fz = z - z0;
    double v = 0;
    for (int dz = 0; dz <= 1; ++dz)
      for (int dy = 0; dy <= 1; ++dy)
        for (int dx = 0; dx <= 1; ++dx) {
          const int xi = x0 + dx, yi = y0 + dy, zi = z0 + dz;
          if (xi < 0 || yi < 0 || zi < 0 || xi >= n || yi >= n || zi >= n) continue;
          v += (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy) * (dz ? fz : 1 - fz) * map(xi, yi, zi);
        }
    return v;
  };
  const double t_max = std::sqrt(3.0) * n / 2 + 1;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const double u = x - c, v = y - c;
      double sum = 0;
      for (double t = -t_max; t <= t_max; t += dt) {
        // Image coordinates (u, v, t) = A r  =>  r = A^T (u, v, t).
        const double rx = a(0, 0) * u + a(1, 0) * v + a(2, 0) * t;
        const double ry = a(0, 1) * u + a(1, 1) * v + a(2, 1) * t;
        const double rz = a(0, 2) * u + a(1, 2) * v + a(2, 2) * t;
        sum += value(rx + c, ry + c, rz + c);
      }
      out(x, y) = static_cast<float>(sum * dt);
    }
  return out;
}

}  // namespace emkit
