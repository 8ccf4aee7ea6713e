"""Collects the picking benchmark (run.sh) into results.json, README.md and PNG plots."""
import csv
import glob
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

W, OUT, SNRS, NMIC, THREADS = sys.argv[1], sys.argv[2], sys.argv[3].split(), int(sys.argv[4]), int(sys.argv[5])
METHODS = [("emkit_template", "emkit template"), ("emkit_log", "emkit LoG"),
           ("relion_template", "relion_autopick template"), ("relion_log", "relion_autopick LoG")]
TIME_KEYS = {"emkit_template": "template_{}", "emkit_log": "log_{}",
             "relion_template": "relion_template_{}", "relion_log": "relion_log_{}"}


def wall(name):
    p = os.path.join(W, "times", name + ".wall")
    return float(open(p).read()) if os.path.exists(p) else None


def curve(d):
    with open(os.path.join(d, "pr_curve.csv")) as f:
        return [(float(r["recall"]), float(r["precision"])) for r in csv.DictReader(f)]


def entry(d, seconds, n):
    e = json.load(open(os.path.join(d, "eval.json")))["overall"]
    keep = ["picks", "truth", "precision", "recall", "f1", "average_precision", "best_f1", "best_f1_threshold"]
    out = {k: e[k] for k in keep}
    if seconds is not None:
        out["wall_seconds_per_micrograph"] = seconds / n
    return out


results = {"threads": THREADS, "micrographs_per_snr": NMIC, "simulated": {}, "real_empiar10028": {}, "timing_4096": {}}
fig, axes = plt.subplots(1, len(SNRS), figsize=(5 * len(SNRS), 4.6), squeeze=False)
for i, snr in enumerate(SNRS):
    S = os.path.join(W, "sim_" + snr)
    res = {}
    ax = axes[0][i]
    for key, label in METHODS:
        d = os.path.join(S, "eval_" + key)
        if not os.path.exists(os.path.join(d, "eval.json")):
            continue
        res[key] = entry(d, wall(TIME_KEYS[key].format(snr)), NMIC)
        summary = os.path.join(S, key, "pick_summary.json")
        if os.path.exists(summary):
            res[key]["in_process_seconds_per_micrograph"] = json.load(open(summary))["seconds_per_micrograph"]
        c = curve(d)
        ax.plot([p[0] for p in c], [p[1] for p in c], label="%s (AP %.2f)" % (label, res[key]["average_precision"]))
    ax.set_title("simulated, SNR %s (%d micrographs)" % (snr, NMIC))
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    results["simulated"][snr] = res
fig.tight_layout()
fig.savefig(os.path.join(OUT, "pr_simulated.png"), dpi=80)

R = os.path.join(W, "empiar10028")
fig, ax = plt.subplots(figsize=(5, 4.6))
for key, label, tkey in [("emkit_template", "emkit template", "real_template"), ("emkit_log", "emkit LoG", "real_log")]:
    d = os.path.join(R, "eval_" + key)
    if not os.path.exists(os.path.join(d, "eval.json")):
        continue
    n = len(glob.glob(os.path.join(R, key, "*_autopick.star")))
    results["real_empiar10028"][key] = entry(d, wall(tkey), max(n, 1))
    c = curve(d)
    ax.plot([p[0] for p in c], [p[1] for p in c],
            label="%s (AP %.2f)" % (label, results["real_empiar10028"][key]["average_precision"]))
ax.set_title("EMPIAR-10028 test split (5 micrographs)")
ax.set_xlabel("recall")
ax.set_ylabel("precision")
ax.set_xlim(0, 1)
ax.set_ylim(0, 1.02)
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(os.path.join(OUT, "pr_empiar10028.png"), dpi=80)

overlay = sorted(glob.glob(os.path.join(R, "emkit_log", "overlays", "*.png")))
if overlay:
    img = plt.imread(overlay[0])
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(img)
    ax.set_axis_off()
    ax.set_title("emkit LoG picks, " + os.path.basename(overlay[0]), fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "overlay_empiar10028.png"), dpi=64)

for name, key in [("big_emkit.json", "emkit_correlation_grid_8A"), ("big_emkit_full_grid.json", "emkit_full_1024_grid")]:
    p = os.path.join(W, name)
    if os.path.exists(p):
        runs = json.load(open(p))
        best = min(runs, key=lambda r: r["total_s"])
        results["timing_4096"][key] = {"best_of_3": best, "all_total_s": [r["total_s"] for r in runs]}
cpu = os.path.join(W, "big_cpu_1thread.txt")
if os.path.exists(cpu):
    u, s_ = (float(v) for v in open(cpu).read().split()[-2:])
    results["timing_4096"]["emkit_one_thread_cpu_seconds_per_run"] = (u + s_) / 3
rt = wall("big_relion_template")
if rt is not None:
    results["timing_4096"]["relion_autopick_template_wall_s"] = rt
if os.path.exists(os.path.join(W, "load.txt")):
    results["load_average_at_end"] = open(os.path.join(W, "load.txt")).read().strip()
json.dump(results, open(os.path.join(OUT, "results.json"), "w"), indent=1)

# Markdown.
L = ["# Picking benchmark", "",
     "Produced by `benchmarks/picking/run.sh` (%d threads / MPI ranks for every program). Matching: one-to-one "
     "(min-cost) within half the particle diameter; AP = area under the stepwise PR curve (sklearn's "
     "average_precision); F1 at each program's default operating threshold (emkit template NCC 0.28, emkit LoG "
     "2.8 sigma, RELION template 0.25, RELION LoG its default) and the best F1 over thresholds. Seconds are wall "
     "clock per micrograph of the whole command (start-up included) on a shared 2-core machine." % THREADS, "",
     "## Simulated micrographs", "",
     "`emkit simulate micrographs`: ribosome (70S map, 5 Å/px), 1024² px, %d per SNR, with ice blobs, aggregates, "
     "carbon edges and broken-particle hard negatives; CTF 1-2.5 µm. References: 10 projections of the same map "
     "(emkit `--reference-map --views 10 --write-references`; RELION gets the same `.mrcs`), low-pass 20 Å, 10° "
     "in-plane, CTF-multiplied. RELION template runs with `--shrink 0` (its fast mode)." % NMIC, "",
     "| SNR | method | F1 (default thr.) | best F1 | AP | s / micrograph |", "|---|---|---|---|---|---|"]
for snr in SNRS:
    for key, label in METHODS:
        r = results["simulated"].get(snr, {}).get(key)
        if r:
            L.append("| %s | %s | %.3f | %.3f | %.3f | %s |" % (
                snr, label, r["f1"], r["best_f1"], r["average_precision"],
                "%.2f" % r["wall_seconds_per_micrograph"] if "wall_seconds_per_micrograph" in r else "-"))
L += ["", "![PR curves](pr_simulated.png)", "", "## Real micrographs: EMPIAR-10028 test split", "",
      "5 PNGs (1024², ~5.4 Å/px), expert labels (incomplete: precision is a lower bound). Template references: "
      "the 70S map at a 6 Å pixel (size of the 80S), no CTF.", "",
      "| method | F1 (default thr.) | best F1 | AP | s / micrograph |", "|---|---|---|---|---|"]
for key, label in [("emkit_template", "emkit template"), ("emkit_log", "emkit LoG")]:
    r = results["real_empiar10028"].get(key)
    if r:
        L.append("| %s | %.3f | %.3f | %.3f | %.2f |" % (label, r["f1"], r["best_f1"], r["average_precision"],
                                                        r["wall_seconds_per_micrograph"]))
L += ["", "![PR curves](pr_empiar10028.png) ![overlay](overlay_empiar10028.png)", "",
      "## 4096² timing target", "",
      "One simulated 4096² micrograph (1.25 Å/px) binned to 1024² (5 Å/px), 10 references x 36 rotations, "
      "%d threads; `bench_template_speed` (in-process: read + preprocess + score + peaks, best of 3)." % THREADS, ""]
for key, label in [("emkit_correlation_grid_8A", "emkit, correlation on the 8 Å grid (default: low-pass / 2.5)"),
                   ("emkit_full_1024_grid", "emkit, correlation on the full 1024² grid (`--correlation-pixel -1`)")]:
    r = results["timing_4096"].get(key)
    if r:
        b = r["best_of_3"]
        L.append("- %s: **%.2f s** (read %.2f, preprocess %.2f, score+peaks %.2f; all runs %s)" % (
            label, b["total_s"], b["read_s"], b["preprocess_s"], b["score_and_peaks_s"],
            ", ".join("%.2f" % t for t in r["all_total_s"])))
if "emkit_one_thread_cpu_seconds_per_run" in results["timing_4096"]:
    L.append("- emkit, one thread: **%.2f CPU s** per micrograph (user + sys over 3 runs / 3, whole process "
             "including start-up): about the wall time on one otherwise idle core, whatever the load of this shared machine"
             % results["timing_4096"]["emkit_one_thread_cpu_seconds_per_run"])
if rt is not None:
    L.append("- relion_autopick_mpi (%d ranks, `--shrink 0`): %.1f s wall" % (THREADS, rt))
if "load_average_at_end" in results:
    L += ["", "Machine load at the end (other jobs were running): `%s`" % results["load_average_at_end"]]
# Sections measured separately (quiet-machine reruns, tuning) survive a rerun: the page from this line on.
MARKER = "## Measured separately (kept when benchmarks/picking/report.py rewrites this page)"
old_page = os.path.join(OUT, "README.md")
if os.path.exists(old_page) and MARKER in open(old_page).read():
    text = open(old_page).read()
    L += ["", text[text.index(MARKER):].rstrip()]
open(os.path.join(OUT, "README.md"), "w").write("\n".join(L) + "\n")
