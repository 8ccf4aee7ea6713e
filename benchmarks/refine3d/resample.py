#!/usr/bin/env python3
"""Resamples a cubic map to a larger box by zero-padding its Fourier transform (same physical box).

usage: resample.py IN.mrc OUT.mrc BOX PIXEL_SIZE_IN
"""
import sys

import mrcfile
import numpy as np

with mrcfile.open(sys.argv[1], permissive=True) as m:
    v = np.asarray(m.data, dtype=np.float64)
n, box, apix = v.shape[0], int(sys.argv[3]), float(sys.argv[4])
f = np.fft.fftshift(np.fft.fftn(v))
pad = (box - n) // 2
g = np.zeros((box, box, box), dtype=complex)
g[pad:pad + n, pad:pad + n, pad:pad + n] = f
out = np.real(np.fft.ifftn(np.fft.ifftshift(g))) * (box / n) ** 3
with mrcfile.new(sys.argv[2], overwrite=True) as o:
    o.set_data(np.ascontiguousarray(out.astype(np.float32)))
    o.voxel_size = apix * n / box
