#!/usr/bin/env python3
"""Two conformations of the 70S ribosome map for the 3D classification benchmark.

usage: make_data.py RIBOSOME_65.mrc OUTDIR
Writes OUTDIR/truthA64.mrc (the map cropped to 64^3, 5 Å/px, centre kept) and truthB64.mrc (the same
with a soft sphere of radius 12 px = 60 Å removed around the densest region 11-17 px from the centre).
"""
import sys
import numpy as np
import mrcfile

with mrcfile.open(sys.argv[1], permissive=True) as m:
    v = np.asarray(m.data, dtype=np.float32)[:64, :64, :64].copy()
z, y, x = np.mgrid[:64, :64, :64]
c = 32
r = np.sqrt((x - c) ** 2 + (y - c) ** 2 + (z - c) ** 2)
g = np.exp(-r ** 2 / (2 * 4.0 ** 2))
g /= g.sum()
smooth = np.real(np.fft.ifftn(np.fft.fftn(v) * np.fft.fftn(np.fft.ifftshift(g))))
i = np.unravel_index(np.argmax(np.where((r > 11) & (r < 17), smooth, -np.inf)), smooth.shape)
d = np.sqrt((x - i[2]) ** 2 + (y - i[1]) ** 2 + (z - i[0]) ** 2)
w = np.clip((13 - d) / 2, 0, 1)
b = v * (1 - w)
for name, a in (("truthA64.mrc", v), ("truthB64.mrc", b)):
    with mrcfile.new(sys.argv[2] + "/" + name, overwrite=True) as o:
        o.set_data(np.ascontiguousarray(a.astype(np.float32)))
        o.voxel_size = 5.0
print("removed %.1f%% of the positive density around voxel (x, y, z) = (%d, %d, %d)"
      % (100 * (v * w)[v > 0].sum() / v[v > 0].sum(), i[2], i[1], i[0]))
