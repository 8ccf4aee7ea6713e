#!/usr/bin/env bash
# CTF estimation benchmark: emkit ctf against simulated truth, and on the real EMPIAR-10028 micrographs.
#   simulated: N (default 20) micrographs of 4096^2 at 1 Å/px from `emkit simulate micrographs` (phantom
#              particles, SNR 0.05, mean defocus uniform in 0.5-3.5 µm, astigmatism |U - V| uniform in
#              0-1000 Å at a random angle, B-factor 30-120 Å^2, pixel MTF; 10% of the noise power passes the
#              CTF as the amorphous ice's phase contrast does, the source of real micrographs' Thon rings)
#   measured:  defocus error (mean of U and V, relative), astigmatism and its angle (where |U - V| > 300 Å),
#              fit resolution, figure of merit, seconds per micrograph (read + estimate) with 2 threads;
#              the real micrographs (1024^2 8-bit PNG, ~5.4 Å/px): fit resolution and defocus range
# Usage: benchmarks/ctf/run.sh [EMKIT] [WORKDIR]   (writes benchmarks/results/ctf/)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
emkit=$(realpath "${1:-$root/build/apps/emkit}")
work=${2:-/tmp/emkit_bench_ctf}
results=$root/benchmarks/results/ctf
data=${EMKIT_SHARED_DATA:-$root/../shared/data}
N=${N:-20}
mkdir -p "$work" "$results"
cd "$work"
if [ ! -f sim$N/emkit_simulate.done ]; then
  rm -rf sim$N
  "$emkit" simulate micrographs --phantom asym --diameter 250 --pixel-size 1 --size 4096 --n $N \
    --defocus-min 5000 --defocus-max 35000 --astigmatism 1000 --ice-ctf 0.1 --threads 2 --seed 1 -q -o sim$N
fi
echo "load before emkit ctf (simulated): $(cut -d' ' -f1-3 /proc/loadavg)" > load.txt
"$emkit" ctf -i "sim$N/micrographs/*.mrc" -o ctf_sim --threads 2 --overwrite -q
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
if [ -d "$data/micrographs/empiar10028" ]; then
  # 4096 px binned to 1024 in these PNGs: 4 x 1.34 = 5.36 Å/px, Nyquist 10.8 Å; 8-bit JPEG-like levels.
  mkdir -p real
  for f in "$data"/micrographs/empiar10028/*/images/*.png; do ln -sf "$f" real/; done
  echo "load before emkit ctf (real): $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
  "$emkit" ctf -i real -o ctf_real --pixel-size 5.36 --box 256 --min-resolution 50 --threads 2 --overwrite -q
fi
/usr/bin/python3 "$here/report.py" "$work" "$results" "$N"
