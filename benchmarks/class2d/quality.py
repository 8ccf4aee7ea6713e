#!/usr/bin/python3
"""Quality of a 2D classification of simulated particles with known views (science.md §5).

usage: quality.py TRUTH_STAR DATA_STAR CLASSES_MRCS REF_PROJECTIONS_MRCS PIXEL_SIZE
Prints JSON: per class size, spread of true viewing directions (mean angle to the class's mean
direction, degrees), FRC against the best-matching noiseless projection (searched over the
projections and in-plane rotations), and size-weighted averages. A class average's origin is
arbitrary in 2D classification, so the FRC is also reported after registering the average on its
best projection by in-plane rotation (1 degree) and sub-pixel shift (0.25 px): "_aligned". The
first FRC=0.5 crossing of a single noisy curve jumps by shells, so the aligned FRC is also given
as the crossing of its 3-shell running mean ("_smoothed") and as its mean over the shells from
1 to n/4 (64 to 20 Å at 64 px, 5 Å/px: "mean_frc", threshold-free, higher is better)."""
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


def register(img, ref, ang0):
    """Best in-plane rotation (ang0 +- 3 deg, 1 deg steps) and shift (0.25 px) of img onto ref."""
    fref = np.fft.fft2(ref)
    best = (-2, None)
    for ang in np.arange(ang0 - 3, ang0 + 3.5, 1.0):
        rimg = ndimage.rotate(img, ang, reshape=False, order=1)
        fi = np.fft.fft2(rimg)
        xc = np.real(np.fft.ifft2(fref * np.conj(fi)))
        iy, ix = np.unravel_index(np.argmax(xc), xc.shape)
        n = img.shape[0]
        sy, sx = (iy + n // 2) % n - n // 2, (ix + n // 2) % n - n // 2
        for dy in np.arange(-0.5, 0.51, 0.25):
            for dx in np.arange(-0.5, 0.51, 0.25):
                shifted = np.real(np.fft.ifft2(ndimage.fourier_shift(fi, (sy + dy, sx + dx))))
                a, b = shifted - shifted.mean(), ref - ref.mean()
                cc = float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
                if cc > best[0]:
                    best = (cc, shifted)
    return best


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
        best = (-2, None, None, 0)
        for ang in range(0, 360, 4):
            rimg = ndimage.rotate(img, ang, reshape=False, order=1)
            cc = refs_n @ norm(rimg).ravel()
            j = int(np.argmax(cc))
            if cc[j] > best[0]:
                best = (float(cc[j]), j, rimg, ang)
        f = frc(best[2], refs[best[1]])
        below = np.where(f[1:] < 0.5)[0]
        shell = int(below[0]) + 1 if len(below) else n // 2
        cc_al, aligned = register(img, refs[best[1]], best[3])
        fa = frc(aligned, refs[best[1]])
        below = np.where(fa[1:] < 0.5)[0]
        shell_al = int(below[0]) + 1 if len(below) else n // 2
        fs = np.convolve(fa, np.ones(3) / 3, mode="same")
        fs[0] = fa[0]
        below = np.where(fs[1:] < 0.5)[0]
        shell_sm = int(below[0]) + 1 if len(below) else n // 2
        entry.update({"frc05_resolution_A_smoothed": n * pixel / shell_sm,
                      "mean_frc": float(np.mean(fa[1:n // 4 + 1]))})
        entry.update({"best_projection": best[1], "cc": best[0], "frc": [float(v) for v in f],
                      "frc05_resolution_A": n * pixel / shell if shell > 0 else None,
                      "cc_aligned": cc_al, "frc_aligned": [float(v) for v in fa],
                      "frc05_resolution_A_aligned": n * pixel / shell_al})
        result["classes"].append(entry)
    used = [c for c in result["classes"] if c["size"] > 0]
    tot = sum(c["size"] for c in used)
    result["weighted_view_spread_deg"] = sum(c["size"] * c["view_spread_deg"] for c in used) / tot
    result["weighted_frc05_resolution_A"] = sum(c["size"] * c["frc05_resolution_A"] for c in used) / tot
    result["weighted_cc"] = sum(c["size"] * c["cc"] for c in used) / tot
    result["weighted_frc05_resolution_A_aligned"] = sum(c["size"] * c["frc05_resolution_A_aligned"] for c in used) / tot
    result["weighted_cc_aligned"] = sum(c["size"] * c["cc_aligned"] for c in used) / tot
    result["weighted_frc05_resolution_A_smoothed"] = sum(c["size"] * c["frc05_resolution_A_smoothed"] for c in used) / tot
    result["weighted_mean_frc"] = sum(c["size"] * c["mean_frc"] for c in used) / tot
    result["nonempty_classes"] = len(used)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
