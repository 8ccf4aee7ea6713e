#!/usr/bin/env bash
# Stage 30: extract the template picks of stage 20 into RELION 3.1 particles (64 px boxes,
# contrast inverted, background normalised like relion_preprocess) and show a few of them.
set -euo pipefail
sim="$DEMO_OUT/simulate/micrographs"
out="$DEMO_OUT/extract"
rm -rf "$out"
t0=$(date +%s.%N)
line=$("$EMKIT" extract -i "$sim/micrographs.star" -c "$DEMO_OUT/pick/template" --box 64 --invert-contrast \
  --threads "$THREADS" -q -o "$out")
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
/usr/bin/python3 - "$out" <<'PY'
import glob, sys
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
o = sys.argv[1]
stack = sorted(glob.glob(o + "/Particles/*.mrcs"))[0]
raw = open(stack, "rb").read()
nx, ny, nz, mode = np.frombuffer(raw[:16], dtype="<i4")
ext = int(np.frombuffer(raw[92:96], dtype="<i4")[0])
assert mode == 2
imgs = np.frombuffer(raw[1024 + ext:], dtype="<f4")[: nx * ny * nz].reshape(nz, ny, nx)
n = min(16, nz)
fig, axes = plt.subplots(2, 8, figsize=(8, 2.2))
for i, ax in enumerate(axes.flat):
    ax.set_axis_off()
    if i < n:
        ax.imshow(imgs[i], cmap="gray")
fig.suptitle(f"first {n} particles of {stack.split('/')[-1]} (64 px, inverted, normalised)", fontsize=8)
fig.tight_layout()
fig.savefig(o + "/particles.png", dpi=100)
PY
{
  echo "## Extraction (emkit extract)"
  echo
  echo "Template picks -> 64 px boxes, contrast inverted, mean 0 / std 1 outside a 24 px circle with the ramp removed."
  echo
  echo "- \`$line\` in $secs s; \`extract/particles.star\` (RELION 3.1, CTF per particle) and \`extract/Particles/*.mrcs\`."
  echo
  echo "![extracted particles](extract/particles.png)"
} > "$DEMO_OUT/report/30-extract.md"
