#include "refine/fsc.h"

#include <cmath>

#include "core/error.h"
#include "core/fft.h"
#include "io/star.h"

namespace emkit {

std::vector<double> Fsc(const Volume& a, const Volume& b, int threads) {
  if (!a.SameShape(b))
    throw InvalidInputError("FSC: the maps differ in size (" + std::to_string(a.nx()) + "x" + std::to_string(a.ny()) +
                            "x" + std::to_string(a.nz()) + " and " + std::to_string(b.nx()) + "x" +
                            std::to_string(b.ny()) + "x" + std::to_string(b.nz()) + ")");
  if (a.nx() != a.ny() || (a.nz() != 1 && a.nz() != a.nx()))
    throw InvalidInputError("FSC: maps must be square images or cubes");
  const FourierGrid fa = Fft(a, threads), fb = Fft(b, threads);
  const int n = a.nx(), hx = n / 2 + 1, ny = a.ny(), nz = a.nz();
  std::vector<double> num(hx, 0.0), d1(hx, 0.0), d2(hx, 0.0);
  for (int z = 0; z < nz; ++z) {
    const int kz = nz > 1 ? FourierGrid::Freq(z, nz) : 0;
    for (int y = 0; y < ny; ++y) {
      const int ky = FourierGrid::Freq(y, ny);
      for (int x = 0; x < hx; ++x) {
        const int shell = static_cast<int>(std::lround(std::sqrt(double(x) * x + double(ky) * ky + double(kz) * kz)));
        if (shell >= hx) continue;
        const std::size_t i = (static_cast<std::size_t>(z) * ny + y) * hx + x;
        const std::complex<double> va(fa.data()[i]), vb(fb.data()[i]);
        num[shell] += (va * std::conj(vb)).real();
        d1[shell] += std::norm(va);
        d2[shell] += std::norm(vb);
      }
    }
  }
  std::vector<double> fsc(hx, 0.0);
  for (int s = 0; s < hx; ++s) fsc[s] = d1[s] > 0 && d2[s] > 0 ? num[s] / std::sqrt(d1[s] * d2[s]) : 0.0;
  if (!fsc.empty()) fsc[0] = 1;
  return fsc;
}

double FscResolution(const std::vector<double>& fsc, double threshold, int box, double pixel_size) {
  int last = 0;
  for (std::size_t s = 1; s < fsc.size(); ++s) {
    if (fsc[s] < threshold) break;
    last = static_cast<int>(s);
  }
  return last == 0 ? 0.0 : ShellResolution(last, box, pixel_size);
}

void WriteFscStar(const std::string& path, const std::vector<double>& fsc, int box, double pixel_size) {
  StarFile f;
  f.version = 30001;
  StarTable& t = f.Add(StarTable("fsc"));
  for (const char* l : {"rlnSpectralIndex", "rlnResolution", "rlnAngstromResolution", "rlnFourierShellCorrelation"})
    t.AddColumn(l);
  for (std::size_t s = 0; s < fsc.size(); ++s) {
    const double res = s == 0 ? 0.0 : double(s) / (box * pixel_size);
    t.AddRow({std::to_string(s), FormatStarNumber(res), s == 0 ? "999.000000" : FormatStarNumber(1 / res),
              FormatStarNumber(fsc[s])});
  }
  WriteStar(path, f);
}

}  // namespace emkit
