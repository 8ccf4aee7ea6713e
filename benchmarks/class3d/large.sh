#!/usr/bin/env bash
# 3D classification, the larger case: the particles of run.sh (two conformations of the ribosome, 64 px at
# 5 Å/px, CTF, SNR 0.05, normalised) but N of them (default 20000), with run.sh's flags. emkit class3d runs ITER
# iterations (default 1); relion_refine (one process, --j 2) runs its first iteration for RELION_SECONDS (default
# 900) and is then stopped: its own progress bar ("elapsed/estimated" time of the iteration) projects the
# iteration's time. Peak memory of both from /usr/bin/time -v (RELION's up to where it was stopped).
# Usage: benchmarks/class3d/large.sh [EMKIT] [WORKDIR]   (writes benchmarks/results/class3d/large.{md,json})
#   SKIP_EMKIT=1 / SKIP_RELION=1 reuse that program's run already in WORKDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
emkit=$(realpath "${1:-$root/build/apps/emkit}")
work=${2:-/tmp/emkit_bench_class3d_large}
results=$root/benchmarks/results/class3d
data=$root/../shared/data
N=${N:-20000} ITER=${ITER:-1} RELION_SECONDS=${RELION_SECONDS:-900}
py=/usr/bin/python3
mkdir -p "$work" "$results"
cd "$work"
"$here/make_particles.sh" "$emkit" "$data" "$N"
source "$here/flags.sh"
touch load.txt
if [ -z "${SKIP_EMKIT:-}" ]; then
  grep -v emkit load.txt > load.tmp || true; mv load.tmp load.txt
  echo "load before emkit: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
  /usr/bin/time -v -o emkit.time "$emkit" class3d -i particles.star -o emkit --overwrite --iter "$ITER" \
    "${flags_emkit[@]}" > emkit.log 2>&1
  echo "load after emkit: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
fi
if [ -z "${SKIP_RELION:-}" ]; then
  grep -v relion load.txt > load.tmp || true; mv load.tmp load.txt
  echo "load before relion: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
  rm -rf relion && mkdir relion
  /usr/bin/time -v -o relion.time relion_refine --i particles.star --o relion/run --iter 1 "${flags_relion[@]}" \
    > relion.log 2>&1 &
  relion_pid=$!
  date +%s > relion.start
  for ((s = 0; s < RELION_SECONDS; s += 5)); do
    kill -0 $relion_pid 2> /dev/null || break
    sleep 5
  done
  pkill -f "^relion_refine --i particles.star --o relion/run" || true
  wait $relion_pid || true
  echo "load after relion: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
fi
$py "$here/large_report.py" "$work" "$results" "$N" "$ITER"
