#!/usr/bin/env bash
# Stage 30: the template picks extracted into RELION 3.1 particles (job extract: 64 px boxes,
# contrast inverted, background normalised like relion_preprocess), and a few of them.
set -euo pipefail
source "$(dirname "$0")/common.inc"
/usr/bin/python3 - "$P/$EXTRACT" "$DEMO_OUT/report/particles.png" <<'PY'
import glob, sys
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
o, png = sys.argv[1], sys.argv[2]
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
fig.savefig(png, dpi=100)
PY
{
  echo "## Extraction (emkit extract)"
  echo
  echo "Template picks -> 64 px boxes, contrast inverted, mean 0 / std 1 outside a 24 px circle with the ramp removed."
  echo
  echo "- \`$(job_line $EXTRACT)\` in $(job_seconds $EXTRACT) s; \`$EXTRACT/particles.star\` (RELION 3.1, CTF per particle) and \`$EXTRACT/Particles/*.mrcs\`."
  echo
  echo "![extracted particles](report/particles.png)"
} > "$DEMO_OUT/report/30-extract.md"
