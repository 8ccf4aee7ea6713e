"""Matched-filter SNR of each simulated particle with its exact noiseless image (benchmarks/results/cnn/README.md, experiments).

usage: /usr/bin/python3 benchmarks/cnn/upper_bound.py SIM_DIR MIC [MIC ...]
SIM_DIR from `emkit simulate micrographs ... --write-noiseless` (micrographs/, noiseless/, truth/); MIC e.g. mic_0011.
noise = micrograph - noiseless; both are whitened by the noise's radially averaged power spectrum; a particle's SNR
is the norm of its whitened noiseless image over a 27 px disc (mean removed) over the whitened noise's standard
deviation: what a detector knowing the exact projection, CTF and position would get. Also band-limited to 25 Å
(the Nyquist frequency of the CNN's binning at 5 Å/px).
"""
import sys

import numpy as np


def read_mrc(path):
    with open(path, "rb") as f:
        b = f.read()
    h = np.frombuffer(b[:1024], dtype=np.int32)
    nx, ny, ext = h[0], h[1], h[23]
    return np.frombuffer(b[1024 + ext:1024 + ext + nx * ny * 4], dtype=np.float32).reshape(ny, nx).astype(np.float64)


def particle_snrs(whitened, noise_std, truth, r=27):
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    disc = xx ** 2 + yy ** 2 <= r * r
    out = []
    for x, y in truth:
        x, y = int(x), int(y)
        if min(x, y) < r + 3 or max(x, y) > whitened.shape[0] - r - 3:
            continue
        p = whitened[y - r:y + r + 1, x - r:x + r + 1]
        out.append(np.sqrt(((p - p[disc].mean())[disc] ** 2).sum()) / noise_std)
    return np.array(out)


def main():
    sim = sys.argv[1]
    for m in sys.argv[2:]:
        mic, clean = read_mrc(f"{sim}/micrographs/{m}.mrc"), read_mrc(f"{sim}/noiseless/{m}.mrc")
        noise = mic - clean
        n = noise.shape[0]
        ky, kx = np.fft.fftfreq(n)[:, None], np.fft.rfftfreq(n)[None, :]
        k = np.sqrt(kx ** 2 + ky ** 2)
        shell = (k * n).astype(int)
        power = np.abs(np.fft.rfft2(noise)) ** 2
        radial = np.bincount(shell.ravel(), power.ravel()) / np.bincount(shell.ravel())
        filt = 1 / np.sqrt(radial[shell])
        truth = [(float(r[0]), float(r[1])) for r in (l.split() for l in open(f"{sim}/truth/{m}.star")) if len(r) == 6]
        noise_std = np.fft.irfft2(np.fft.rfft2(noise) * filt, s=noise.shape).std()
        for label, band in (("all frequencies", np.ones_like(k)), ("to 25 A (k <= 0.2/px)", k <= 0.2)):
            w = np.fft.irfft2(np.fft.rfft2(clean - clean.mean()) * filt * band, s=clean.shape)
            s = particle_snrs(w, noise_std, truth)
            print(f"{m} {label}: {len(s)} particles, matched-filter SNR median {np.median(s):.1f}, "
                  f"10th percentile {np.percentile(s, 10):.1f}, min {s.min():.1f}")


if __name__ == "__main__":
    main()
