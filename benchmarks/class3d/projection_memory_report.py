#!/usr/bin/env python3
"""Writes benchmarks/results/class3d/projection_memory.{json,md} from projection_memory.sh's work folder.

usage: projection_memory_report.py WORK RESULTS N REFINE_N CASE:BUDGETS...   (CASE grid, fine or refine)
"""
import filecmp, glob, json, os, re, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "refine3d"))
from report import timing_of  # noqa: E402

work, results, n, refine_n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
titles = {
    "grid": "class3d, the orientation grid alone (`--oversampling 0`): the grid's references",
    "fine": "class3d coarse to fine (`--oversampling 1`): the coarse grid's references, then the shared children",
    "refine": "refine3d (coarse to fine, both halves): the coarse grid's references, then the shared children",
}


def first_iteration_seconds(log):
    m = re.search(r"(?:class3d iteration 1/\d+|refine3d iteration 1 of at most \d+):.*?, ([0-9.]+) s\n", log)
    return float(m.group(1)) if m else None


def outputs(folder):
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(folder, "run_it001_*"))
                  if p.endswith((".star", ".mrc")) and not p.endswith(("_optimiser.star", "_model.star")))


cases = []
for arg in sys.argv[5:]:
    name, budgets = arg.split(":", 1)
    budgets = [int(b) for b in budgets.split()]
    rows = []
    ref = os.path.join(work, "%s-%d" % (name, budgets[0]))
    for b in budgets:
        folder = os.path.join(work, "%s-%d" % (name, b))
        log = open(folder + ".log").read()
        files = outputs(folder)
        same = bool(files) and files == outputs(ref) and all(
            filecmp.cmp(os.path.join(ref, f), os.path.join(folder, f), shallow=False) for f in files)
        rows.append({"budget_mb": b, "iteration1_seconds": first_iteration_seconds(log),
                     "time": timing_of(folder + ".time"), "outputs_compared": files, "same_as_first": same})
    cases.append({"case": name, "title": titles[name], "rows": rows})

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
load = open(os.path.join(work, "load.txt")).read().strip().split("\n")
json.dump({"particles_class3d": n, "particles_refine3d": refine_n, "cases": cases, "cpu": cpu,
           "cores": os.cpu_count(), "load": load},
          open(os.path.join(results, "projection_memory.json"), "w"), indent=1)

lines = ["# Projection memory: time against memory in class3d and refine3d", "",
         "`--projection-memory` (MB per rank, default 512) is the memory class3d and refine3d give to projections "
         "made once and reused: the references of the orientation grid, and in coarse-to-fine passes the children "
         "of significant orientations that several particles share. Projections beyond it are made again each time "
         "they are scored. With `--strict-highres-exp`, when the grid's references do not fit but their scored "
         "pixels (those below the limit) do, only these are kept, and the other pixels are made for the orientations "
         "with weight in a block of particles, when their sums for the maps and the noise are made. "
         "The values are the same either way, so the outputs are too (last column: the iteration's "
         "data.star and maps compared byte for byte with the first row's). "
         "With references in a table the E-step makes one particle's cross terms at a time; with none (0 MB) it "
         "makes each block of references once for a block of particles and holds all their cross terms, so a "
         "budget that holds the scored pixels can take less memory than none.", "",
         "class3d: the %d particles of the [main benchmark](README.md) (two conformations of the ribosome, 64 px at "
         "5 Å/px, CTF, SNR 0.05) with its flags and `--strict-highres-exp 40`, K = 2, HEALPix order 2; refine3d: %d "
         "ribosome particles of the [refine3d benchmark](../refine3d/README.md)'s kind, from the map low-passed to "
         "60 Å, HEALPix order 2. The first iteration of each (the broadest posteriors: the most projections), one "
         "process with 2 threads on %s." % (n, refine_n, cpu), ""]
for c in cases:
    lines += ["**%s**" % c["title"], "",
              "| --projection-memory (MB) | iteration 1 (s) | peak memory (MB) | outputs as the first row's |",
              "|---|---|---|---|"]
    for r in c["rows"]:
        t = r["time"]
        lines.append("| %d | %s | %s | %s |" % (
            r["budget_mb"], "%.1f" % r["iteration1_seconds"] if r["iteration1_seconds"] is not None else "–",
            "%.0f" % t["peak_rss_mb"] if t else "–", "yes" if r["same_as_first"] else "**no**"))
    lines.append("")
lines += ["Machine load (1/5/15 min): %s." % "; ".join(load), "",
          "Command: `benchmarks/class3d/projection_memory.sh` (JSON: projection_memory.json).", ""]
open(os.path.join(results, "projection_memory.md"), "w").write("\n".join(lines))
