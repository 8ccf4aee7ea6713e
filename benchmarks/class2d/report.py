#!/usr/bin/python3
"""Collects the class2d benchmark outputs of run.sh into JSON, Markdown and a PNG plot."""
import glob, json, os, re, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

work, results, n, k, iters = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rit = int(sys.argv[6]) if len(sys.argv) > 6 else iters  # RELION's last iteration (it may run fewer)


def time_v(path):
    out = {}
    for line in open(path):
        if "Elapsed (wall clock)" in line:
            t = line.split(": ")[-1].strip().split(":")
            out["wall_s"] = sum(float(x) * 60 ** i for i, x in enumerate(reversed(t)))
        if "Maximum resident set size" in line:
            out["peak_rss_mb"] = int(line.split(":")[-1]) / 1024
        if "User time (seconds)" in line or "System time (seconds)" in line:
            out["cpu_s"] = out.get("cpu_s", 0) + float(line.split(":")[-1])
    return out


def emkit_iterations(log):
    return [float(m.group(1)) for m in re.finditer(r"iteration \d+/\d+: .*, ([0-9.]+) s", open(log).read())]


def relion_iterations(d):
    files = sorted(glob.glob(os.path.join(d, "run_it*_model.star")))
    t = [os.path.getmtime(f) for f in files]
    return [b - a for a, b in zip(t, t[1:])]


def fmt(v, f="{:.1f}"):
    return "n/a" if v is None else f.format(v)


emkit = time_v(f"{work}/emkit{n}.time")
emkit["seconds_per_iteration"] = emkit_iterations(f"{work}/emkit{n}.log")
relion = time_v(f"{work}/relion{n}/time.txt") if os.path.exists(f"{work}/relion{n}/time.txt") else {}
relion["seconds_per_iteration"] = relion_iterations(f"{work}/relion{n}")
for r in (emkit, relion):
    s = r["seconds_per_iteration"]
    r["mean_s_per_iteration"] = sum(s) / len(s) if s else None
q_e = json.load(open(f"{work}/quality_emkit{n}.json"))
q_r = json.load(open(f"{work}/quality_relion{n}.json"))
q_er = json.load(open(f"{work}/quality_emkit{n}_it{rit:03d}.json"))
keys = ("weighted_view_spread_deg", "weighted_frc05_resolution_A", "weighted_frc05_resolution_A_aligned",
        "weighted_frc05_resolution_A_smoothed", "weighted_mean_frc", "weighted_cc", "weighted_cc_aligned",
        "nonempty_classes")
scaling = {}
for name in ("t1", "t2", "r1", "r2"):
    p = f"{work}/scale{n}_{name}.time"
    if os.path.exists(p):
        wall, rss = open(p).read().split()[:2]
        scaling[name] = {"wall_s": float(wall), "peak_rss_mb": int(rss) / 1024}
summary = {
    "particles": n, "classes": k, "iterations": iters, "box": 64, "pixel_size": 5, "snr": 0.05,
    "sampling": "psi 12 deg, offset range 5 px, step 2 px (RELION adds --oversampling 1)",
    "relion_iterations": rit,
    "load": open(f"{work}/load{n}.txt").read().strip().split("\n"),
    "emkit": emkit, "relion": relion,
    "speedup_per_iteration": relion["mean_s_per_iteration"] / emkit["mean_s_per_iteration"] if relion["mean_s_per_iteration"] else None,
    "speedup_total": relion["wall_s"] / emkit["wall_s"] if relion.get("wall_s") and rit == iters else None,
    "quality": {"emkit": {x: q_e[x] for x in keys}, "relion": {x: q_r[x] for x in keys},
                "emkit_at_relion_iteration": {x: q_er[x] for x in keys}},
    "scaling_5_iterations": scaling,
    "per_class": {"emkit": q_e["classes"], "relion": q_r["classes"]},
}
os.makedirs(results, exist_ok=True)
json.dump(summary, open(f"{results}/class2d_n{n}_k{k}.json", "w"), indent=1)
fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
ax[0].plot(range(1, len(emkit["seconds_per_iteration"]) + 1), emkit["seconds_per_iteration"], "o-", label="emkit class2d")
ax[0].plot(range(1, len(relion["seconds_per_iteration"]) + 1), relion["seconds_per_iteration"], "s-", label="relion_refine 3.1.3")
ax[0].set_xlabel("iteration"); ax[0].set_ylabel("seconds"); ax[0].set_yscale("log"); ax[0].legend(); ax[0].set_title(f"N={n}, K={k}, 2 threads")
for name, q, mk in (("emkit", q_e, "o"), ("relion", q_r, "s")):
    ax[1].scatter([c["size"] for c in q["classes"]], [c.get("view_spread_deg", 0) for c in q["classes"]], marker=mk, label=name)
ax[1].set_xlabel("class size"); ax[1].set_ylabel("view spread (deg)"); ax[1].legend(); ax[1].set_title("per class")
fig.tight_layout(); fig.savefig(f"{results}/class2d_n{n}_k{k}.png", dpi=90)
e, r, er = summary["quality"]["emkit"], summary["quality"]["relion"], summary["quality"]["emkit_at_relion_iteration"]
rows = [("non-empty classes", "nonempty_classes", "{:d}"),
        ("size-weighted view spread (°, lower better)", "weighted_view_spread_deg", "{:.1f}"),
        ("size-weighted FRC=0.5 vs best projection (Å, first crossing)", "weighted_frc05_resolution_A", "{:.1f}"),
        ("  same, average registered by rotation + sub-pixel shift (Å)", "weighted_frc05_resolution_A_aligned", "{:.1f}"),
        ("  same, 3-shell running mean of the FRC (Å)", "weighted_frc05_resolution_A_smoothed", "{:.1f}"),
        ("size-weighted mean FRC 64-20 Å (registered, higher better)", "weighted_mean_frc", "{:.3f}"),
        ("size-weighted best correlation (registered)", "weighted_cc_aligned", "{:.3f}")]
md = [f"# Class2D: emkit vs RELION 3.1.3 (N={n}, K={k}, {iters} iterations, 2 threads)", "",
      "Simulated ribosome70s_65 projections, 64 px, 5 Å/px, CTF, SNR 0.05; same sampling (psi 12°, offsets 5/2 px), T=2,",
      "no class re-centring in either. " + (f"RELION ran its first {rit} iterations only (timing)." if rit != iters else ""),
      f"Machine load during the runs (shared 2-core box): {'; '.join(summary['load'])}.", "",
      f"| | emkit | RELION |", "|---|---|---|",
      f"| iterations run | {iters} | {rit} |",
      f"| wall time total (s) | {fmt(emkit.get('wall_s'))} | {fmt(relion.get('wall_s'))} |",
      f"| CPU time total (s) | {fmt(emkit.get('cpu_s'))} | {fmt(relion.get('cpu_s'))} |",
      f"| mean wall s / iteration | {fmt(emkit['mean_s_per_iteration'], '{:.2f}')} | {fmt(relion['mean_s_per_iteration'], '{:.2f}')} |",
      f"| peak memory (MB) | {fmt(emkit.get('peak_rss_mb'), '{:.0f}')} | {fmt(relion.get('peak_rss_mb'), '{:.0f}')} |"]
tag = f" (it {iters} / {rit})" if rit != iters else ""
md += [f"| {name}{tag} | {f.format(e[key])} | {f.format(r[key])} |" for name, key, f in rows]
if rit != iters:
    md += [f"| emkit at iteration {rit}: {name} | {f.format(er[key])} | |" for name, key, f in rows[1:3]]
md += ["", f"Speed-up per iteration {fmt(summary['speedup_per_iteration'])}x" +
       (f", total {summary['speedup_total']:.1f}x." if summary["speedup_total"] else "."), ""]
if scaling:
    md += ["Scaling, emkit 5 iterations: " + ", ".join(f"{k2} {v['wall_s']:.1f} s ({v['peak_rss_mb']:.0f} MB)" for k2, v in scaling.items()) +
           " (t = threads in one process, r = MPI ranks with 1 thread each).", ""]
md += [f"![timings and per-class view spread](class2d_n{n}_k{k}.png)", ""]
open(f"{results}/class2d_n{n}_k{k}.md", "w").write("\n".join(md))
print("\n".join(md))
