#!/usr/bin/python3
"""Quality of a 2D classification of simulated particles with known views (science.md §5).

usage: quality.py TRUTH_STAR DATA_STAR CLASSES_MRCS REF_PROJECTIONS_MRCS PIXEL_SIZE
Prints JSON: per class size, spread of true viewing directions (mean angle to the class's mean
direction, degrees), FRC against the best-matching noiseless projection (searched over the
projections and in-plane rotations), and size-weighted averages."""
import json, sys
import numpy as np
from scipy import ndimage


def read_star(path, block="particles"):
    rows, labels, inside, in_loop = [], [], False, False
    for line in open(path):
        s = line.strip()
        if s.startswith("data_"):
            if inside and rows:
                break
            inside = s == "data_" + block
            labels, in_loop = [], False
            continue
        if not inside or not s or s.startswith("#"):
            continue
        if s.startswith("loop_"):
            in_loop = True
        elif s.startswith("_"):
            labels.append(s.split()[0][1:])
        elif in_loop:
            rows.append(dict(zip(labels, s.split())))
    return rows


def read_mrc(path):
    with open(path, "rb") as f:
        h = np.frombuffer(f.read(1024), dtype=np.int32)
        nx, ny, nz, mode = h[0], h[1], h[2], h[3]
        next_ = h[23]
        f.seek(1024 + next_)
        assert mode == 2, "mode 2 only"
        return np.frombuffer(f.read(), dtype=np.float32)[: nx * ny * nz].reshape(nz, ny, nx).astype(np.float64)


def frc(a, b):
    fa, fb = np.fft.fft2(a), np.fft.fft2(b)
    n = a.shape[0]
    k = np.fft.fftfreq(n) * n
    r = np.rint(np.hypot(*np.meshgrid(k, k))).astype(int)
    out = []
    for s in range(n // 2 + 1):
        m = r == s
        num = np.real(np.sum(fa[m] * np.conj(fb[m])))
        den = np.sqrt(np.sum(np.abs(fa[m]) ** 2) * np.sum(np.abs(fb[m]) ** 2))
        out.append(num / den if den > 0 else 0.0)
    return np.array(out)


def main():
    truth_star, data_star, classes_path, refs_path, pixel = sys.argv[1:6]
    pixel = float(pixel)
    truth, data = read_star(truth_star), read_star(data_star)
    assert len(truth) == len(data), "truth and data differ in length"
    rot = np.radians([float(t["rlnAngleRot"]) for t in truth])
    tilt = np.radians([float(t["rlnAngleTilt"]) for t in truth])
    views = np.stack([np.sin(tilt) * np.cos(rot), np.sin(tilt) * np.sin(rot), np.cos(tilt)], 1)
    cls = np.array([int(d["rlnClassNumber"]) for d in data])
    classes, refs = read_mrc(classes_path), read_mrc(refs_path)
    n = classes.shape[1]
    # Normalised references, low-passed like the classes are limited in resolution.
    def norm(x):
        x = x - x.mean()
        return x / (np.linalg.norm(x) + 1e-12)
    refs_n = np.array([norm(r) for r in refs]).reshape(len(refs), -1)
    result = {"classes": []}
    for k in range(classes.shape[0]):
        members = np.where(cls == k + 1)[0]
        entry = {"class": k + 1, "size": int(len(members))}
        if len(members):
            m = views[members].sum(0)
            m /= np.linalg.norm(m) + 1e-12
            entry["view_spread_deg"] = float(np.degrees(np.arccos(np.clip(views[members] @ m, -1, 1))).mean())
        img = classes[k]
        best = (-2, None, None)
        for ang in range(0, 360, 4):
            rimg = ndimage.rotate(img, ang, reshape=False, order=1)
            cc = refs_n @ norm(rimg).ravel()
            j = int(np.argmax(cc))
            if cc[j] > best[0]:
                best = (float(cc[j]), j, rimg)
        f = frc(best[2], refs[best[1]])
        below = np.where(f[1:] < 0.5)[0]
        shell = int(below[0]) + 1 if len(below) else n // 2
        entry.update({"best_projection": best[1], "cc": best[0], "frc": [float(v) for v in f],
                      "frc05_resolution_A": n * pixel / shell if shell > 0 else None})
        result["classes"].append(entry)
    used = [c for c in result["classes"] if c["size"] > 0]
    tot = sum(c["size"] for c in used)
    result["weighted_view_spread_deg"] = sum(c["size"] * c["view_spread_deg"] for c in used) / tot
    result["weighted_frc05_resolution_A"] = sum(c["size"] * c["frc05_resolution_A"] for c in used) / tot
    result["weighted_cc"] = sum(c["size"] * c["cc"] for c in used) / tot
    result["nonempty_classes"] = len(used)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
