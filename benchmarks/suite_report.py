#!/usr/bin/env python3
"""benchmarks/run's report: report.md, results.json and runtimes.png / classes.png from the work folder.

usage: suite_report.py WORK OUT N K ITER THREADS SECONDS
"""
import glob
import hashlib
import json
import os
import sys

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

W, OUT = sys.argv[1], sys.argv[2]
N, K, ITER, THREADS, SECONDS = (int(a) for a in sys.argv[3:8])
os.makedirs(OUT, exist_ok=True)
info = dict(l.rstrip("\n").split("=", 1) for l in open(f"{W}/versions.txt") if "=" in l)
quick = info.get("quick") == "1"
load = open(f"{W}/load.txt").read().strip()


def seconds(name):
    p = f"{W}/times/{name}"
    return float(open(p).read()) if os.path.exists(p) else None


def star_block(path, block):
    """Rows of a loop block of a STAR file as dicts."""
    rows, labels, inside, loop = [], [], False, False
    for line in open(path):
        s = line.strip()
        if s.startswith("data_"):
            if inside and rows:
                break
            inside, labels, loop = s == "data_" + block, [], False
            continue
        if not inside or not s or s.startswith("#"):
            continue
        if s == "loop_":
            loop = True
        elif s.startswith("_"):
            labels.append(s.split()[0][1:])
        elif loop:
            rows.append(dict(zip(labels, s.split())))
    return rows


def mrc_data(path):
    """The voxels of an MRC file (float32), without its header (which may hold a date)."""
    raw = open(path, "rb").read()
    nx, ny, nz, mode = np.frombuffer(raw[:16], dtype="<i4")
    ext = int(np.frombuffer(raw[92:96], dtype="<i4")[0])
    assert mode == 2, path
    return np.frombuffer(raw[1024 + ext:], dtype="<f4")[: nx * ny * nz].reshape(nz, ny, nx)


hardware = f"{info.get('cpu', '?')}, {info.get('cores', '?')} cores" + (
    f", GPU {info['gpu']}" if info.get("gpu") else ", no GPU")
res = {"versions": info, "load_at_end": load, "seconds": SECONDS, "picking": [], "big_jobs": [], "correct_answer": {}}

# ---- Picking ----
mics = {}
for d in sorted(glob.glob(f"{W}/pick_*")):
    snr = d.split("_")[-1]
    n = len(glob.glob(f"{d}/micrographs/*.mrc")) or 1
    mics[snr] = n
    for prog, method, key in (("emkit", "template", "template"), ("emkit", "LoG", "log"),
                              ("relion_autopick", "template", "relion_template"), ("relion_autopick", "LoG", "relion_log")):
        ev = f"{d}/eval_{'emkit_' + key if prog == 'emkit' else key}/eval.json"
        if not os.path.exists(ev):
            continue
        o = json.load(open(ev))["overall"]
        t = seconds(f"{key}_{snr}")
        res["picking"].append({"data": f"simulated, SNR {snr}", "program": prog, "method": method,
                               "precision": o["precision"], "recall": o["recall"], "f1": o["f1"],
                               "ap": o["average_precision"], "picks": o["picks"], "truth": o["truth"],
                               "seconds_per_micrograph": t / n if t else None})
real = f"{W}/real"
for key, method in (("emkit_log", "LoG"), ("emkit_template", "template")):
    ev = f"{real}/eval_{key}/eval.json"
    if os.path.exists(ev):
        o = json.load(open(ev))["overall"]
        n = len(glob.glob(f"{real}/{key}/*_autopick.star")) or 1
        t = seconds(f"real_{method.lower()}")
        res["picking"].append({"data": "real, EMPIAR-10028 test (labels incomplete)", "program": "emkit",
                               "method": method, "precision": o["precision"], "recall": o["recall"], "f1": o["f1"],
                               "ap": o["average_precision"], "picks": o["picks"], "truth": o["truth"],
                               "seconds_per_micrograph": t / n if t else None})

# ---- Big jobs ----
C = f"{W}/class2d_n{N}"
it = f"{ITER:03d}"
job = f"Class2D, {N} particles 64 px, K={K}, {ITER} iterations"
t_relion = seconds("class2d_relion_a")
for name, prog, rt in ((f"class2d_emkit_t{THREADS}", "emkit class2d", f"1 / {THREADS}"),
                       ("class2d_emkit_t1", "emkit class2d", "1 / 1"),
                       ("class2d_emkit_r2", "emkit class2d (mpirun)", "2 / 1"),
                       ("class2d_emkit_r3", "emkit class2d (mpirun)", "3 / 1"),
                       ("class2d_relion_a", f"relion_refine {info.get('relion', '').split()[0] if info.get('relion') else ''}",
                        f"1 / {THREADS}")):
    t = seconds(name)
    if t is None:
        continue
    res["big_jobs"].append({"job": job, "program": prog, "hardware": hardware, "ranks_threads": rt, "seconds": t,
                            "speedup_vs_relion": t_relion / t if t_relion else None})

# ---- Correct answer? ----
runs = [("emkit, 1 thread", "emkit_t1"), (f"emkit, {THREADS} threads", f"emkit_t{THREADS}"),
        ("emkit, 1 rank", "emkit_r1"), ("emkit, 2 ranks", "emkit_r2"), ("emkit, 3 ranks", "emkit_r3"),
        ("relion_refine, seed 1", "relion_a"), ("relion_refine again, seed 1", "relion_b")]
dist, digest, pixels = {}, {}, {}
for label, folder in runs:
    prefix = f"{C}/{folder}/run_it{it}"
    model = prefix + "_model.star"
    if not os.path.exists(model):
        continue
    dist[label] = [float(r["rlnClassDistribution"]) for r in star_block(model, "model_classes")]
    pixels[label] = mrc_data(prefix + "_classes.mrcs")
    digest[label] = hashlib.md5(pixels[label].tobytes()).hexdigest()
emkit_labels = [l for l in dist if l.startswith("emkit")]
relion_labels = [l for l in dist if l.startswith("relion")]
emkit_same = len({digest[l] for l in emkit_labels}) == 1 if emkit_labels else None
relion_same = len({digest[l] for l in relion_labels}) == 1 if len(relion_labels) == 2 else None
relion_max_diff = (max(abs(a - b) for a, b in zip(dist[relion_labels[0]], dist[relion_labels[1]]))
                   if len(relion_labels) == 2 else None)
relion_pixel_diff = relion_pixel_std = None
if len(relion_labels) == 2:
    a, b = pixels[relion_labels[0]], pixels[relion_labels[1]]
    relion_pixel_diff, relion_pixel_std = float(np.abs(a - b).max()), float(a.std())
res["correct_answer"] = {"class_distributions": dist, "classes_md5": digest, "emkit_identical": emkit_same,
                         "relion_identical": relion_same, "relion_max_distribution_difference": relion_max_diff,
                         "relion_max_pixel_difference": relion_pixel_diff, "relion_pixel_std": relion_pixel_std}

json.dump(res, open(f"{OUT}/results.json", "w"), indent=2)

# ---- Pictures ----
fig, ax = plt.subplots(1, 2, figsize=(10, 3.4))
bj = res["big_jobs"]
ax[0].barh([f"{b['program']}\n{b['ranks_threads']} (ranks / threads)" for b in bj], [b["seconds"] for b in bj],
           color=["tab:blue" if b["program"].startswith("emkit") else "tab:orange" for b in bj])
ax[0].set_xlabel("seconds")
ax[0].set_title(job, fontsize=8)
ax[0].tick_params(labelsize=7)
width = 0.8 / max(1, len(dist))
for i, (label, d) in enumerate(dist.items()):
    ax[1].bar([k + 1 + (i - len(dist) / 2) * width for k in range(len(d))], d, width, label=label)
ax[1].set_xlabel("class")
ax[1].set_ylabel("fraction of particles")
ax[1].set_title("class distributions, same job and seed", fontsize=8)
ax[1].legend(fontsize=6)
fig.tight_layout()
fig.savefig(f"{OUT}/suite.png", dpi=100)


# ---- Report ----
def f3(v):
    return "-" if v is None else f"{v:.3f}"


L = [f"# emkit benchmark suite{' (quick)' if quick else ''}, {info.get('date')}", "",
     f"`benchmarks/run{' --quick' if quick else ''}` on {hardware}; {info.get('os')}; {SECONDS} s in all; "
     f"load at the end: `{load}` (a shared machine: read times with it).", "",
     f"Versions: {info.get('emkit')}; RELION {info.get('relion')}.", "",
     "Topic pages with the full measurements: [picking](../picking/README.md), [CNN](../cnn/README.md), "
     "[class2d](../class2d/README.md), [reconstruct](../reconstruct/README.md); index: [results](../README.md).", "",
     "## Picking", "",
     "Each program at its default threshold; a pick matches a true particle within half a diameter; AP over the "
     "whole ranking. Simulated: the 70S ribosome (or the built-in phantom without ../shared/data) at 5 Å/px, "
     f"decoys on; {THREADS} threads (RELION: {THREADS} MPI ranks). CNN picking and training: "
     + ("the full suite (benchmarks/cnn/run.sh); see the CNN page." if quick else "benchmarks/cnn/run.sh, CNN page."),
     "", "| data | program | method | precision | recall | F1 | AP | picks / truth | s / micrograph |",
     "|---|---|---|---:|---:|---:|---:|---:|---:|"]
for p in res["picking"]:
    L.append(f"| {p['data']} | {p['program']} | {p['method']} | {f3(p['precision'])} | {f3(p['recall'])} | "
             f"{f3(p['f1'])} | {f3(p['ap'])} | {p['picks']} / {p['truth']} | {f3(p['seconds_per_micrograph'])} |")
L += ["", "## Big jobs", "",
      "Same particles (true angles and offsets removed) and settings: psi step 12°, offsets ±5 px step 2, "
      "T=2, 300 Å mask, zero mask, no class re-centring; RELION `--oversampling 1 --flatten_solvent`.", "",
      "| job | program | hardware | ranks / threads | runtime | speed-up vs RELION |", "|---|---|---|---|---:|---:|"]
for b in bj:
    sp = "-" if b["speedup_vs_relion"] is None else f"{b['speedup_vs_relion']:.1f}x"
    L.append(f"| {b['job']} | {b['program']} | {b['hardware']} | {b['ranks_threads']} | {b['seconds']:.1f} s | {sp} |")
L += ["", "## Correct answer?", "",
      f"The same class2d job (seed 1) with 1 and {THREADS} threads and 1, 2 and 3 MPI ranks, and relion_refine "
      "twice with the same --random_seed: class distributions (fraction of particles per class) of the last "
      "iteration, and a digest of the class averages' pixels (the same digest: the same numbers, bit for bit).", "",
      "| run | " + " | ".join(f"class {k + 1}" for k in range(K)) + " | class-average pixels (md5) |",
      "|---|" + "---:|" * K + "---|"]
for label, d in dist.items():
    L.append(f"| {label} | " + " | ".join(f"{v:.3f}" for v in d) + f" | `{digest[label][:12]}` |")
L.append("")
if emkit_same is not None:
    L.append(f"- emkit: {'identical' if emkit_same else 'NOT identical'} for every thread and rank count "
             "(by construction: one random stream per particle, fixed reduction order).")
if relion_same is not None:
    if relion_same:
        L.append("- RELION: two runs with the same seed gave the same class averages here.")
    else:
        L.append(f"- RELION: two runs with the same seed differ: largest difference of a class's fraction "
                 f"{relion_max_diff:.3f}, of a class-average pixel {relion_pixel_diff:.3g} (pixel std "
                 f"{relion_pixel_std:.3g}). Similar, not the same: relion_refine's {THREADS} threads add their "
                 "sums in the order they finish, so the rounding differs from run to run.")
L += ["", "![runtimes and class distributions](suite.png)", ""]
open(f"{OUT}/report.md", "w").write("\n".join(L))
