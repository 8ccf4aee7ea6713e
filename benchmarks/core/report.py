"""Turns Google Benchmark's JSON into a Markdown table and an FFT timing plot."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

out = sys.argv[1]
data = json.load(open(f"{out}/results.json"))
ctx = data["context"]
rows = [b for b in data["benchmarks"] if b.get("run_type", "iteration") == "iteration"]
with open(f"{out}/README.md", "w") as f:
    f.write("# Foundation micro-benchmarks\n\n")
    f.write(f"Measured by `benchmarks/core/run.sh` on {ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz, "
            f"{ctx.get('date')}. Wall time per iteration (the machine is shared: treat as indicative).\n\n")
    f.write("| benchmark | time | unit |\n|---|---:|---|\n")
    for b in rows:
        f.write(f"| `{b['name']}` | {b['real_time']:.3f} | {b['time_unit']} |\n")
fft = {}
for b in rows:
    if b["name"].startswith("BM_Fft2D/"):
        _, n, t = b["name"].split("/")[:3]
        fft.setdefault(int(t), []).append((int(n), b["real_time"]))
plt.figure(figsize=(5, 3.5))
for t, pts in sorted(fft.items()):
    pts.sort()
    plt.loglog([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"{t} thread(s)")
plt.xlabel("image size (px)")
plt.ylabel("r2c FFT time (ms)")
plt.title("emkit FFT (FFTW3f, cached plans)")
plt.legend()
plt.tight_layout()
plt.savefig(f"{out}/fft.png", dpi=100)
