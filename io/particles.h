// Typed view of RELION particle and micrograph STAR files. Reads 3.0 (optics columns on
// every row, origins in pixels), 3.1 and 5.0 (data_optics + data_particles, origins in Å);
// writes 3.1. Columns emkit does not interpret are kept and written back.
#pragma once

#include <string>
#include <vector>

#include "core/ctf.h"
#include "io/star.h"

namespace emkit {

struct OpticsGroup {
  int number = 1;
  std::string name = "opticsGroup1";
  double voltage_kv = 300, cs_mm = 2.7, amplitude_contrast = 0.1;
  double pixel_size = 1.0;         // rlnImagePixelSize (particles) or rlnMicrographPixelSize
  double original_pixel_size = 0;  // rlnMicrographOriginalPixelSize (0 = same)
  int image_size = 0;              // rlnImageSize
  int image_dimensionality = 2;
};

struct Particle {
  std::string image_name;  // "000001@stack.mrcs"
  std::string micrograph_name;
  double x = 0, y = 0;  // rlnCoordinateX/Y (micrograph pixels)
  int optics_group = 1;
  CtfParams ctf;  // defocus etc. (voltage/cs/Q filled from the optics group)
  double rot = 0, tilt = 0, psi = 0;
  double origin_x_angst = 0, origin_y_angst = 0;
  int class_number = 0;  // 0 = none
  double fom = 0;        // rlnAutopickFigureOfMerit
  int random_subset = 0;
};

struct ParticleSet {
  std::vector<OpticsGroup> optics;
  std::vector<Particle> particles;
  StarFile source;  // the file as read (other columns are kept from here)
  std::string particles_block = "particles";
  // False: the particles have no CTF (their micrographs had none): the CTF columns are left out
  // when written, so that CTF-correcting steps refuse them instead of using a placeholder.
  // ReadParticles sets it from the rlnDefocusU column.
  bool has_ctf = true;

  const OpticsGroup& Optics(int group) const;
};

// Splits "000012@path/stack.mrcs" into (11, "path/stack.mrcs"), resolving the path against
// the STAR file's folder when it is relative and not found as given. Errors name `where`.
void ParseImageName(const std::string& image_name, const std::string& star_dir, int* index, std::string* path,
                    const std::string& where);
std::string MakeImageName(int index0, const std::string& path);  // 0-based index -> "000001@path"

ParticleSet ReadParticles(const std::string& path);
// For steps that correct the CTF: throws InvalidInputError, naming `path` (and the particle),
// `emkit ctf` and `off` (how to turn the correction off, e.g. "run with --no-ctf"), when the
// particles have no CTF: no rlnDefocusU/V columns, a defocus <= 0, or the placeholder that
// emkit extract wrote for micrographs without CTF before it left the columns out (every
// particle at 15000 Å, no astigmatism).
void RequireParticleCtf(const ParticleSet& set, const std::string& path, const std::string& off);
// Writes RELION 3.1: data_optics + data_particles. Extra columns of set.source are kept
// when `keep_extra_columns` is set and the row counts match.
StarFile ParticlesToStar(const ParticleSet& set, bool keep_extra_columns = true);
void WriteParticles(const std::string& path, const ParticleSet& set, bool keep_extra_columns = true);

// A micrographs STAR (rlnMicrographName + CTF + optics), as CTFFIND jobs write it.
struct MicrographEntry {
  std::string name;
  std::string where;  // "file.star:line" of its row
  int optics_group = 1;
  bool has_ctf = false;
  CtfParams ctf;
  // From CTF estimation (emkit ctf, CTFFIND): written when > 0 / not empty.
  double ctf_max_resolution = 0;   // rlnCtfMaxResolution (Å)
  double ctf_figure_of_merit = 0;  // rlnCtfFigureOfMerit
  std::string ctf_image;           // rlnCtfImage ("Spectra/mic.ctf:mrc")
};
struct MicrographSet {
  std::vector<OpticsGroup> optics;
  std::vector<MicrographEntry> micrographs;
  const OpticsGroup& Optics(int group) const;
};
// A micrograph listed twice is an error naming both lines; a STAR of particles or coordinates
// is refused as such.
MicrographSet ReadMicrographs(const std::string& path);
void WriteMicrographs(const std::string& path, const MicrographSet& set);

}  // namespace emkit
