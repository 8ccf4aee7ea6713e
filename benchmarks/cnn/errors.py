"""Classify a CNN picker's errors on simulated micrographs (benchmarks/results/cnn/README.md, experiments).

usage: /usr/bin/python3 benchmarks/cnn/errors.py SIM_DIR PICKS_DIR THRESHOLD [FIRST LAST [SCALE]]
SIM_DIR is an `emkit simulate micrographs` output (truth/mic_NNNN.star and mic_NNNN_decoys.star), PICKS_DIR holds
mic_NNNN_autopick.star; micrographs FIRST..LAST (default 11..30, the benchmark's test set) are scored. Picks with a
figure of merit >= THRESHOLD are matched one-to-one to the truth within 25 px (optimal assignment, as eval-picks);
each false positive is classified as near a decoy (within 15 px of its edge), near a true particle (< 50 px), at the
border (< 30 px) or background; each false negative as at the border, touching a neighbour (< 60 px), near a decoy,
with a pick nearby (< 50 px) but too far off, or isolated. The distances are for 5 Å/px 1024^2 micrographs;
SCALE multiplies all of them and the size (4 for the 1.25 Å/px 4096^2 set).
"""
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment

RADIUS, SIZE = 25.0, 1024


def read_star(path):
    header, rows = [], []
    with open(path) as f:
        for line in f:
            s = line.strip()
            if s.startswith("_"):
                header.append(s.split()[0])
            elif s and not s.startswith(("#", "data_", "loop_")):
                rows.append(s.split())
    return header, rows


def main():
    sim, picks_dir, threshold = sys.argv[1], sys.argv[2], float(sys.argv[3])
    first, last = (int(sys.argv[4]), int(sys.argv[5])) if len(sys.argv) > 5 else (11, 30)
    k = float(sys.argv[6]) if len(sys.argv) > 6 else 1.0
    radius, size = RADIUS * k, SIZE * k
    fp_cat, fn_cat, dists = {}, {}, []
    tp = fp = fn = 0
    for i in range(first, last + 1):
        m = f"mic_{i:04d}"
        _, rows = read_star(f"{sim}/truth/{m}.star")
        truth = np.array([[float(r[0]), float(r[1])] for r in rows])
        _, rows = read_star(f"{sim}/truth/{m}_decoys.star")
        decoys = [(float(r[0]), float(r[1]), r[2], float(r[3])) for r in rows]
        header, rows = read_star(f"{picks_dir}/{m}_autopick.star")
        fom = header.index("_rlnAutopickFigureOfMerit")
        picks = np.array([[float(r[0]), float(r[1]), float(r[fom])] for r in rows]).reshape(-1, 3)
        picks = picks[picks[:, 2] >= threshold]
        matched_p, matched_t = set(), set()
        if len(picks):
            d = np.hypot(picks[:, None, 0] - truth[None, :, 0], picks[:, None, 1] - truth[None, :, 1])
            cost = np.where(d <= radius, d, 1e6)
            ri, ci = linear_sum_assignment(cost)
            ok = cost[ri, ci] < 1e6
            matched_p, matched_t = set(ri[ok]), set(ci[ok])
            dists += list(d[ri[ok], ci[ok]])
        for j, (x, y, _) in enumerate(picks):
            if j in matched_p:
                tp += 1
                continue
            fp += 1
            near_decoy = min(((np.hypot(x - a, y - b) - r, t) for a, b, t, r in decoys), default=(1e9, ""))
            if near_decoy[0] < 15 * k:
                cat = "decoy:" + near_decoy[1]
            elif np.hypot(x - truth[:, 0], y - truth[:, 1]).min() < 50 * k:
                cat = "near a true particle"
            elif min(x, y, size - x, size - y) < 30 * k:
                cat = "border"
            else:
                cat = "background"
            fp_cat[cat] = fp_cat.get(cat, 0) + 1
        for j, (x, y) in enumerate(truth):
            if j in matched_t:
                continue
            fn += 1
            neighbour = np.sort(np.hypot(x - truth[:, 0], y - truth[:, 1]))[1]
            near_decoy = min(((np.hypot(x - a, y - b) - r, t) for a, b, t, r in decoys), default=(1e9, ""))
            nearest_pick = np.hypot(x - picks[:, 0], y - picks[:, 1]).min() if len(picks) else 1e9
            if min(x, y, size - x, size - y) < 30 * k:
                cat = "border"
            elif neighbour < 60 * k:
                cat = "touching"
            elif near_decoy[0] < 20 * k:
                cat = "near decoy:" + near_decoy[1]
            elif nearest_pick < 50 * k:
                cat = "pick nearby but > 25 px off"
            else:
                cat = "isolated"
            fn_cat[cat] = fn_cat.get(cat, 0) + 1
    print(f"threshold {threshold}: TP {tp} FP {fp} FN {fn} precision {tp / max(1, tp + fp):.3f} "
          f"recall {tp / max(1, tp + fn):.3f} mean match distance {np.mean(dists) if dists else 0:.1f} px")
    print("FP:", sorted(fp_cat.items(), key=lambda a: -a[1]))
    print("FN:", sorted(fn_cat.items(), key=lambda a: -a[1]))


if __name__ == "__main__":
    main()
