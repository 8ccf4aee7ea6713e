#!/usr/bin/env bash
# The class3d benchmarks' particles, made in the current folder unless N of them are there already: two
# conformations of ../shared/data/maps/ribosome70s_65.mrc (make_data.py), 64 px at 5 Å/px, CTF, SNR 0.05, on
# RELION's greyscale (simulate_normalised.py); particles.star without the truth, truth.txt, true_angles.star.
# Usage: make_particles.sh EMKIT DATA N
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
emkit=$1 data=$2 N=$3
py=/usr/bin/python3
if [ ! -f particles.star ] || [ "$(cat n.txt 2>/dev/null)" != "$N normalised" ]; then
  $py "$here/make_data.py" "$data/maps/ribosome70s_65.mrc" . > removed.txt
  $py "$here/simulate_normalised.py" "$emkit" sim truthA64.mrc truthB64.mrc -- --pixel-size 5 --box 64 --n "$N" \
    --snr 0.05 --defocus-min 10000 --defocus-max 30000 --seed 11 > scale.txt
  $py "$here/merge.py" sim/particles.star particles.star truth.txt true_angles.star
  echo "$N normalised" > n.txt
fi
