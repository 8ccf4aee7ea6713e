#!/usr/bin/env python3
"""Writes benchmarks/results/refine3d/symmetry.{json,md} from symmetry.sh's work folder.

usage: symmetry_report.py WORK RESULTS N
"""
import json, os, re, sys

import mrcfile
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import timing_of  # noqa: E402
from score import crossing, fsc  # noqa: E402

work, results, n = sys.argv[1], sys.argv[2], int(sys.argv[3])


def read(path):
    with mrcfile.open(path, permissive=True) as m:
        return np.asarray(m.data, dtype=np.float64), float(m.voxel_size.x)


def run(name, truth, particles):
    d = os.path.join(work, name)
    log = open(os.path.join(work, name + ".log")).read()
    m = re.search(r"refine3d: converged in (\d+) iterations, resolution ([0-9.]+) Å", log)
    out = {"particles": particles, "converged": bool(m), "time": timing_of(os.path.join(work, name + ".time"))}
    if m:
        out["iterations"], out["resolution_A"] = int(m.group(1)), float(m.group(2))
        a, apix = read(os.path.join(d, "run_class001.mrc"))
        t, _ = read(os.path.join(work, truth))
        out["fsc_vs_truth_0.5_A"] = crossing(fsc(a, t), 0.5, a.shape[0], apix)
        out["_map"] = a
    return out


runs = {"d2_sym": run("d2_sym", "d2.mrc", n), "d2_c1": run("d2_c1", "d2.mrc", n),
        "d2_sym_quarter": run("d2_sym_quarter", "d2.mrc", n // 4), "hand": run("hand", "hand.mrc", n)}
hand = runs["hand"]
if "_map" in hand:
    a = hand.pop("_map")
    t, apix = read(os.path.join(work, "hand.mrc"))
    mirror, _ = read(os.path.join(work, "hand_mirror.mrc"))
    ft, fm = fsc(a, t), fsc(a, mirror)
    # The mean FSC over shells 1..n/4 (to 24 Å): one number per hand.
    q = a.shape[0] // 4
    hand["mean_fsc_to_24A_vs_true_hand"] = float(np.mean(ft[1:q + 1]))
    hand["mean_fsc_to_24A_vs_mirror"] = float(np.mean(fm[1:q + 1]))
    hand["fsc_vs_mirror_0.5_A"] = crossing(fm, 0.5, a.shape[0], apix)
for r in runs.values():
    r.pop("_map", None)
load = open(os.path.join(work, "load.txt")).read().strip().split("\n")
# JSON has no infinity: a crossing below the threshold from the first shell on is null.
json.dump({"runs": {k: {a: (None if b == float("inf") else b) for a, b in r.items()} for k, r in runs.items()},
           "load": load}, open(os.path.join(results, "symmetry.json"), "w"), indent=1)


def cell(r, key, fmt):
    if key not in r or r[key] is None:
        return "–"
    if r[key] == float("inf"):  # below the threshold from the first shell on
        return "none (below 0.5 at every shell)"
    return fmt % r[key]


def seconds(r):
    return "%.0f" % r["time"]["seconds"] if r.get("time") else "–"


rows = [("D2 map, `--sym D2`", runs["d2_sym"]), ("D2 map, `--sym C1`", runs["d2_c1"]),
        ("D2 map, `--sym D2`, a quarter of the particles", runs["d2_sym_quarter"])]
lines = ["# Symmetry and handedness in emkit refine3d", "",
         "**Symmetry.** The 70S ribosome map (64 px, 5 Å/px) averaged over D2 (2-folds along z, x and y, as RELION "
         "defines D2); %d simulated particles (CTF, defocus 1-3 µm, SNR 0.05), refined from the map low-passed to "
         "60 Å with and without `--sym D2`, and %d of the same particles with `--sym D2`." % (n, n // 4), "",
         "| run | particles | iterations | resolution (Å, half maps, FSC 0.143) | map vs true map, FSC 0.5 (Å) | "
         "time (s) |", "|---|---|---|---|---|---|"]
for label, r in rows:
    lines.append("| %s | %d | %s | %s | %s | %s |" % (label, r["particles"], cell(r, "iterations", "%d"),
                                                    cell(r, "resolution_A", "%.1f"),
                                                    cell(r, "fsc_vs_truth_0.5_A", "%.1f"), seconds(r)))
lines += ["", "**Handedness.** The toy hand (../shared/data/maps/hand_64.mrc, its central 32³ as a 6 Å/px map); "
          "%d simulated particles (CTF, SNR 1) refined from the map low-passed to 60 Å, C1. The refined map "
          "is compared with the true hand and with its mirror image:" % n, "",
          "| | true hand | mirror image |", "|---|---|---|",
          "| FSC 0.5 (Å) | %s | %s |" % (cell(hand, "fsc_vs_truth_0.5_A", "%.1f"), cell(hand, "fsc_vs_mirror_0.5_A", "%.1f")),
          "| mean FSC to 24 Å | %s | %s |" % (cell(hand, "mean_fsc_to_24A_vs_true_hand", "%.3f"),
                                            cell(hand, "mean_fsc_to_24A_vs_mirror", "%.3f")), "",
          "Half-map resolution of the hand: %s Å in %s iterations." % (cell(hand, "resolution_A", "%.1f"),
                                                                      cell(hand, "iterations", "%d")), "",
          "All runs: HEALPix order 2, local searches from order 4, offsets 5 px in 1 px steps, 2 threads, seed 1. "
          "Machine load (1/5/15 min): %s." % "; ".join(load), "",
          "Command: `N=%d benchmarks/refine3d/symmetry.sh` (JSON: symmetry.json)." % n, ""]
open(os.path.join(results, "symmetry.md"), "w").write("\n".join(lines))
