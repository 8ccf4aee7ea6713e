"""Report of benchmarks/ctf/run.sh: emkit ctf against the simulator's truth, and on real micrographs."""
import json
import math
import os
import statistics
import sys

work, results, n = sys.argv[1], sys.argv[2], int(sys.argv[3])


def read_loop(path, block):
    """Rows of the loop in data_<block> as dicts (STAR files written by emkit)."""
    rows, labels, inside, loop = [], [], False, False
    for line in open(path):
        s = line.strip()
        if s.startswith("data_"):
            inside, loop, labels = s == "data_" + block, False, []
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


def angle_error(a, b):
    d = abs(a - b) % 180
    return min(d, 180 - d)


truth = {os.path.basename(r["rlnMicrographName"]): r for r in read_loop(f"{work}/sim{n}/micrographs.star", "micrographs")}
found = {os.path.basename(r["rlnMicrographName"]): r for r in read_loop(f"{work}/ctf_sim/micrographs.star", "micrographs")}
summary = json.load(open(f"{work}/ctf_sim/ctf_summary.json"))
seconds = {os.path.basename(m["micrograph"]): m["read_seconds"] + m["fit_seconds"] for m in summary["per_micrograph"]}
rows = []
for name in sorted(truth):
    t, f = truth[name], found[name]
    tu, tv, ta = float(t["rlnDefocusU"]), float(t["rlnDefocusV"]), float(t["rlnDefocusAngle"])
    fu, fv, fa = float(f["rlnDefocusU"]), float(f["rlnDefocusV"]), float(f["rlnDefocusAngle"])
    mean_t, mean_f = (tu + tv) / 2, (fu + fv) / 2
    rows.append({
        "micrograph": name, "defocus_true": mean_t, "defocus_found": mean_f,
        "defocus_error_pct": 100 * abs(mean_f - mean_t) / mean_t,
        "u_error_pct": 100 * abs(fu - tu) / tu, "v_error_pct": 100 * abs(fv - tv) / tv,
        "astigmatism_true": tu - tv, "astigmatism_found": fu - fv,
        "angle_true": ta, "angle_found": fa,
        "angle_error": angle_error(fa, ta) if tu - tv > 300 else None,
        "fit_resolution": float(f["rlnCtfMaxResolution"]), "figure_of_merit": float(f["rlnCtfFigureOfMerit"]),
        "bfactor_true": float(t["rlnCtfBfactor"]), "seconds": seconds[name]})

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")

angle_rows = [r for r in rows if r["angle_error"] is not None]
out = {
    "micrographs": len(rows),
    "median_defocus_error_pct": med([r["defocus_error_pct"] for r in rows]),
    "max_defocus_error_pct": max(r["defocus_error_pct"] for r in rows),
    "median_u_v_error_pct": med([r["u_error_pct"] for r in rows] + [r["v_error_pct"] for r in rows]),
    "median_astigmatism_error": med([abs(r["astigmatism_found"] - r["astigmatism_true"]) for r in rows]),
    "median_angle_error_deg": med([r["angle_error"] for r in angle_rows]),
    "max_angle_error_deg": max([r["angle_error"] for r in angle_rows], default=float("nan")),
    "angle_micrographs": len(angle_rows),
    "median_fit_resolution": med([r["fit_resolution"] for r in rows]),
    "median_seconds_per_micrograph": med([r["seconds"] for r in rows]),
    "seconds_per_micrograph_job": summary["seconds_per_micrograph"],
    "threads": summary["threads"],
    "per_micrograph": rows,
}
real_path = f"{work}/ctf_real/micrographs.star"
if os.path.exists(real_path):
    real = read_loop(real_path, "micrographs")
    out["real"] = [{"micrograph": os.path.basename(r["rlnMicrographName"]),
                    "defocus_u": float(r["rlnDefocusU"]), "defocus_v": float(r["rlnDefocusV"]),
                    "defocus_angle": float(r["rlnDefocusAngle"]),
                    "fit_resolution": float(r["rlnCtfMaxResolution"]),
                    "figure_of_merit": float(r["rlnCtfFigureOfMerit"])} for r in real]
load = open(f"{work}/load.txt").read().strip()
out["load"] = load
json.dump(out, open(f"{results}/ctf_simulated.json", "w"), indent=2)

md = ["# emkit ctf: simulated truth (4096², 1 Å/px) and real micrographs", "",
      f"Measured by `benchmarks/ctf/run.sh` ({load.replace(chr(10), '; ')}).", "",
      f"| | value |", "|---|---|",
      f"| micrographs | {out['micrographs']} |",
      f"| median error of the mean defocus | {out['median_defocus_error_pct']:.3f} % (max {out['max_defocus_error_pct']:.3f} %) |",
      f"| median error of defocus U and V | {out['median_u_v_error_pct']:.3f} % |",
      f"| median astigmatism error (U - V) | {out['median_astigmatism_error']:.0f} Å |",
      f"| median angle error where U - V > 300 Å ({out['angle_micrographs']} micrographs) | {out['median_angle_error_deg']:.2f}° (max {out['max_angle_error_deg']:.2f}°) |",
      f"| median fit resolution | {out['median_fit_resolution']:.2f} Å |",
      f"| seconds per micrograph (read + estimate, {out['threads']} threads) | median {out['median_seconds_per_micrograph']:.2f}, job {out['seconds_per_micrograph_job']:.2f} |",
      "", "| micrograph | defocus true → found (Å) | error | U - V true → found (Å) | angle true → found | fit res (Å) | FOM | B (Å²) |",
      "|---|---|---|---|---|---|---|---|"]
for r in rows:
    md.append(f"| {r['micrograph']} | {r['defocus_true']:.0f} → {r['defocus_found']:.0f} | {r['defocus_error_pct']:.3f} % | "
              f"{r['astigmatism_true']:.0f} → {r['astigmatism_found']:.0f} | {r['angle_true']:.1f} → {r['angle_found']:.1f} | "
              f"{r['fit_resolution']:.2f} | {r['figure_of_merit']:.3f} | {r['bfactor_true']:.0f} |")
if "real" in out:
    md += ["", "## Real EMPIAR-10028 micrographs (1024² 8-bit PNG, 5.36 Å/px: Nyquist 10.7 Å)", "",
           "| micrograph | defocus U / V (Å) | angle | fit res (Å) | FOM |", "|---|---|---|---|---|"]
    for r in out["real"]:
        md.append(f"| {r['micrograph']} | {r['defocus_u']:.0f} / {r['defocus_v']:.0f} | {r['defocus_angle']:.1f} | "
                  f"{r['fit_resolution']:.1f} | {r['figure_of_merit']:.3f} |")
open(f"{results}/ctf_simulated.md", "w").write("\n".join(md) + "\n")
print("\n".join(md))
