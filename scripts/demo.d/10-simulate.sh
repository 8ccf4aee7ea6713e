#!/usr/bin/env bash
# Stage 10: ground truth from the built-in phantom (no external data).
# Later stages read:
#   $DEMO_OUT/simulate/micrographs/micrographs.star          micrograph list with CTF (RELION 3.1)
#   $DEMO_OUT/simulate/micrographs/micrographs/mic_NNNN.mrc   6 micrographs 1024^2, 4 Å/px, dark particles
#   $DEMO_OUT/simulate/micrographs/truth/mic_NNNN.star        true centres (rlnCoordinateX/Y px, x = column,
#                                                             y = row), angles, rlnClassNumber
#   $DEMO_OUT/simulate/micrographs/truth/mic_NNNN_decoys.star ice, aggregates, hard negatives (not targets)
#   $DEMO_OUT/simulate/micrographs/truth.star                 all true particles with CTF
#   $DEMO_OUT/simulate/particles/particles.star + .mrcs       2000 particles 64 px, 4 Å/px, CTF, SNR 0.05,
#                                                             true angles/offsets (white particles, RELION)
#   $DEMO_OUT/simulate/particles/particles_noiseless.mrcs     the same without noise
# Particle diameter 200 Å (50 px at 4 Å/px).
set -euo pipefail
out="$DEMO_OUT/simulate"
mkdir -p "$out"
t0=$(date +%s.%N)
mic_line=$("$EMKIT" simulate micrographs --phantom asym --diameter 200 --pixel-size 4 --n 6 --size 1024 --snr 0.2 \
  --carbon-edge 0.5 --pictures --threads "$THREADS" --seed "$SEED" -q --out "$out/micrographs")
t1=$(date +%s.%N)
par_line=$("$EMKIT" simulate particles --phantom asym --diameter 200 --pixel-size 4 --n 2000 --snr 0.05 \
  --write-noiseless --pictures --threads "$THREADS" --seed "$SEED" -q --out "$out/particles")
t2=$(date +%s.%N)
mic_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
par_s=$(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.1f", b-a}')
per_mic=""
for f in "$out"/micrographs/truth/mic_*[0-9].star; do
  per_mic="$per_mic $(grep -cE '^ *[0-9.-]+ +[0-9.-]+ ' "$f")"
done
{
  echo "## Simulated ground truth (emkit simulate)"
  echo
  echo "Built-in asymmetric phantom (\`--phantom asym\`, 200 Å), 300 kV, Cs 2.7 mm, Q 0.1, defocus 1.0-2.5 µm."
  echo
  echo "- Micrographs: \`$mic_line\` in $mic_s s ($THREADS thread(s)); particles per micrograph:$per_mic."
  echo "  SNR = variance of the CTF-modulated particle signal over the particle discs / noise variance;"
  echo "  coloured noise, per-micrograph B-factor, ice gradient, ice blobs, aggregates, carbon edges, broken-particle hard negatives."
  echo "- Particles: \`$par_line\` in $par_s s. SNR = variance of the noiseless CTF-modulated projection over the box / noise variance."
  echo
  echo "Files for later stages: \`simulate/micrographs/{micrographs.star, micrographs/, truth/, truth.star}\`,"
  echo "\`simulate/particles/{particles.star, particles.mrcs, particles_noiseless.mrcs}\`."
  echo
  echo "![micrograph 1 with the truth: white = particles, black = hard negatives and decoys](simulate/micrographs/pictures/mic_0001.png)"
  echo
  echo "![8 simulated particles (top) and their noiseless projections (bottom)](simulate/particles/pictures/particles.png)"
} > "$DEMO_OUT/report/10-simulate.md"
