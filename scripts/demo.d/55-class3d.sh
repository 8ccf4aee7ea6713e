#!/usr/bin/env bash
# Stage 55: 3D classification (job class3d: RELION's Class3D) of simulated particles of two
# conformations from one reference; the assignments are scored against the simulation's truth.
set -euo pipefail
source "$(dirname "$0")/common.inc"
out="$P/$CLASS3D"
last=$(ls "$out"/run_it*_data.star | sort | tail -1)
it=$(basename "$last" | sed 's/run_it0*\([0-9]*\)_data.star/\1/')
py=/usr/bin/python3; [ -x "$py" ] || py=python3   # Debian's, with numpy (scripts/setup.sh)
truth="$DEMO_OUT/report/class3d_truth.txt"
$py - "$P/$PARTICLES_TWO/particles.star" > "$truth" <<'PY'
import sys
sys.path.insert(0, "benchmarks/class3d")
import score
print("\n".join(p["rlnClassNumber"] for p in score.read_particles(sys.argv[1])))
PY
score=$($py benchmarks/class3d/score.py "$last" "$truth")
acc=$(python3 -c "import json, sys; print('%.0f' % (100 * json.loads(sys.argv[1])['accuracy']))" "$score")
sizes=$(python3 -c "import json, sys; print(' / '.join(map(str, json.loads(sys.argv[1])['class_sizes'])))" "$score")
n=$(grep -c '@' "$last" || true)
split=$(sort -n "$truth" | uniq -c | awk '{printf "%s%s", (NR > 1 ? " / " : ""), $1}')
{
  echo "## 3D classification (emkit class3d)"
  echo
  echo "Input: $n simulated particles (64 px, 4 Å/px, SNR 0.1): $split from the phantom and from the phantom with a"
  echo "part missing (each map reconstructed from its own simulated particles). One reference, the intact"
  echo "phantom low-passed to 40 Å; K = 2, HEALPix order 1 (30°), $it iterations, $THREADS thread(s), $(job_seconds $CLASS3D) s."
  echo
  echo "- Assignment accuracy against the truth: $acc% (class sizes $sizes)."
  echo
  echo "Class sizes per iteration, and projections of the final classes (z, y, x):"
  echo
  echo "![class sizes]($CLASS3D/run_class_sizes.png)"
  echo
  echo "![classes]($CLASS3D/$(basename "$last" _data.star)_classes.png)"
} > "$DEMO_OUT/report/55-class3d.md"
echo "class3d: $n particles of two conformations, $acc% assigned correctly, $(job_seconds $CLASS3D) s"
