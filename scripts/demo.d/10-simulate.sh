#!/usr/bin/env bash
# Stage 10: ground truth from the built-in phantom (no external data), jobs micrographs and
# particles of scripts/demo.toml:
#   Simulate/job001/micrographs.star                 micrograph list with CTF (RELION 3.1)
#   Simulate/job001/micrographs/mic_NNNN.mrc         6 micrographs 1024^2, 4 Å/px, dark particles
#   Simulate/job001/truth/mic_NNNN.star              true centres (rlnCoordinateX/Y px, x = column,
#                                                    y = row), angles, rlnClassNumber
#   Simulate/job001/truth/mic_NNNN_decoys.star       ice, aggregates, hard negatives (not targets)
#   Simulate/job002/particles.star + .mrcs           2000 particles 64 px, 4 Å/px, CTF, SNR 0.05,
#                                                    true angles/offsets (white particles, RELION)
# Particle diameter 200 Å (50 px at 4 Å/px).
set -euo pipefail
source "$(dirname "$0")/common.inc"
per_mic=""
for f in "$P/$SIM"/truth/mic_*[0-9].star; do
  per_mic="$per_mic $(grep -cE '^ *[0-9.-]+ +[0-9.-]+ ' "$f")"
done
{
  echo "## Simulated ground truth (emkit simulate)"
  echo
  echo "Built-in asymmetric phantom (\`--phantom asym\`, 200 Å), 300 kV, Cs 2.7 mm, Q 0.1, defocus 1.0-2.5 µm."
  echo
  echo "- Micrographs: \`$(job_line $SIM)\` in $(job_seconds $SIM) s ($THREADS thread(s)); particles per micrograph:$per_mic."
  echo "  SNR = variance of the CTF-modulated particle signal over the particle discs / noise variance;"
  echo "  coloured noise, per-micrograph B-factor, ice gradient, ice blobs, aggregates, carbon edges, broken-particle hard negatives."
  echo "- Particles: \`$(job_line $PARTICLES)\` in $(job_seconds $PARTICLES) s. SNR = variance of the noiseless CTF-modulated projection over the box / noise variance."
  echo
  echo "Files for later jobs: \`$SIM/{micrographs.star, micrographs/, truth/, truth.star}\`,"
  echo "\`$PARTICLES/{particles.star, particles.mrcs, particles_noiseless.mrcs}\`."
  echo
  echo "![micrograph 1 with the truth: white = particles, black = hard negatives and decoys]($SIM/pictures/mic_0001.png)"
  echo
  echo "![8 simulated particles (top) and their noiseless projections (bottom)]($PARTICLES/pictures/particles.png)"
} > "$DEMO_OUT/report/10-simulate.md"
