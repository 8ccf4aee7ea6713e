#!/usr/bin/env python3
"""Writes benchmarks/results/refine3d/scale.{json,md} from scale.sh's work folder.

usage: scale_report.py WORK RESULTS ITER N:BOX...
"""
import json, os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import timing_of  # noqa: E402

work, results, iters, cases = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
rows = []
for c in cases:
    n, box = (int(x) for x in c.split(":"))
    name = "n%d_box%d" % (n, box)
    log = open(os.path.join(work, name + ".log")).read()
    its = [{"iteration": int(m.group(1)), "size_px": int(m.group(2)), "order": int(m.group(3)), "mode": m.group(4),
            "seconds": float(m.group(5))}
           for m in re.finditer(r"refine3d iteration (\d+) of at most \d+: size (\d+) px, HEALPix order (\d+) "
                                r"(local|global).*?, ([0-9.]+) s\n", log)]
    # Pauses (NAME.pauses: "start end" epoch seconds per line, the run stopped with SIGSTOP while other
    # work used the cores) are taken out of the iteration they fell in (the first one whose files were
    # written after the pause began).
    paused = 0.0
    pauses_file = os.path.join(work, name + ".pauses")
    if os.path.exists(pauses_file):
        for line in open(pauses_file):
            if len(line.split()) != 2:
                continue
            start, end = (float(v) for v in line.split())
            paused += end - start
            for it in its:
                star = os.path.join(work, name, "run_it%03d_data.star" % it["iteration"])
                if os.path.exists(star) and os.path.getmtime(star) > start:
                    it["seconds"] = round(it["seconds"] - (end - start), 1)
                    it["paused_s"] = round(it.get("paused_s", 0) + end - start, 1)
                    break
    rows.append({"particles": n, "box": box, "pixel_size": 320.0 / box, "iterations": its,
                 "time": timing_of(os.path.join(work, name + ".time")), "paused_s": round(paused, 1)})
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
load = open(os.path.join(work, "load.txt")).read().strip().split("\n")
json.dump({"cases": rows, "cpu": cpu, "cores": os.cpu_count(), "load": load},
          open(os.path.join(results, "scale.json"), "w"), indent=1)
lines = ["# refine3d: time and memory against particles and box", "",
         "The simulated ribosome particles of the main benchmark (CTF, a 320 Å box: 64 px at 5 Å/px with SNR 0.05, "
         "or 128 px at 2.5 Å/px with SNR 0.0125: white noise spreads over 4× the Fourier pixels, so this keeps the "
         "SNR per Fourier pixel at a given resolution), refined from the map low-passed to 60 Å with the main "
         "benchmark's settings; %s (global searches at HEALPix order 2, the broadest posteriors of a run), one "
         "process with 2 threads on %s." % ("the first iteration" if iters == 1 else "the first %d iterations" % iters,
                                            cpu), "",
         "| particles | box (px) | iteration | image size (px) | seconds | ms per particle | peak memory (MB) |",
         "|---|---|---|---|---|---|---|"]
for r in rows:
    mem = "%.0f" % r["time"]["peak_rss_mb"] if r["time"] else "–"
    for i, it in enumerate(r["iterations"]):
        lines.append("| %d | %d | %d | %d | %.0f | %.0f | %s |" % (
            r["particles"], r["box"], it["iteration"], it["size_px"], it["seconds"],
            1000 * it["seconds"] / r["particles"], mem if i == 0 else ""))
by_n = sorted((r for r in rows if r["box"] == rows[0]["box"] and r["iterations"] and r["time"]),
              key=lambda r: r["particles"])
if len(by_n) >= 2:
    a, b = by_n[0], by_n[-1]
    per = lambda r: 1000 * r["iterations"][0]["seconds"] / r["particles"]
    grow = b["time"]["peak_rss_mb"] / a["time"]["peak_rss_mb"]
    lines += ["", "From %d to %d particles (%d px) the first iteration's time per particle goes from %.0f to %.0f ms "
              "(%s) and the peak memory from %.0f to %.0f MB%s." % (
                  a["particles"], b["particles"], a["box"], per(a), per(b),
                  "time grows in proportion to the particles" if abs(per(b) / per(a) - 1) < 0.15 else
                  "%.2f× the time per particle" % (per(b) / per(a)), a["time"]["peak_rss_mb"],
                  b["time"]["peak_rss_mb"],
                  ": particles are read chunk by chunk, so memory hardly depends on their number" if grow < 1.25 else
                  " (%.2f×)" % grow)]
paused_rows = [r for r in rows if r["paused_s"] > 0]
if paused_rows:
    lines += ["", "%s paused (SIGSTOP, then SIGCONT) for %s while other work used the cores; the pauses are "
              "taken out of its iteration times (its peak memory is unaffected)." % (
                  " and ".join("The %d-particle, %d px run was" % (r["particles"], r["box"]) for r in paused_rows),
                  " and ".join("%.0f s" % r["paused_s"] for r in paused_rows))]
lines += ["", "The image size of an iteration follows the resolution in Fourier pixels, which is the same for both "
          "boxes at the same resolution in Å (the same 320 Å box): a larger box costs at the particle's preparation "
          "and in the final iterations, where the resolution approaches the finer Nyquist frequency.", "",
          "Machine load (1/5/15 min): %s." % "; ".join(load), "",
          "Command: `CASES=\"%s\" ITER=%d benchmarks/refine3d/scale.sh` (JSON: scale.json)." % (" ".join(cases), iters), ""]
open(os.path.join(results, "scale.md"), "w").write("\n".join(lines))
