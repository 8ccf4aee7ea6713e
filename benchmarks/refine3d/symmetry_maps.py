#!/usr/bin/env python3
"""Maps for the symmetry and handedness benchmark.

usage: symmetry_maps.py RIBOSOME_64.mrc HAND_64.mrc OUTDIR
Writes OUTDIR/d2.mrc: the ribosome map (64 px, 5 Å/px) averaged over RELION's D2 (2-folds along z,
x and y: exact index reversals about the centre n/2), and OUTDIR/hand.mrc and hand_mirror.mrc: the
central 32^3 of the toy hand (1 Å/px, radius ~12 px) as a 6 Å/px map, and its mirror image (z reversed).
"""
import sys

import mrcfile
import numpy as np


def read(path):
    with mrcfile.open(path, permissive=True) as m:
        return np.asarray(m.data, dtype=np.float64)


def write(path, a, apix):
    with mrcfile.new(path, overwrite=True) as o:
        o.set_data(np.ascontiguousarray(a.astype(np.float32)))
        o.voxel_size = apix


def reverse(a, axes):
    """a(-r) along `axes` ((z, y, x) order) about the centre n/2: index i -> (n - i) % n."""
    out = a
    for ax in axes:
        n = a.shape[ax]
        out = np.take(out, (n - np.arange(n)) % n, axis=ax)
    return out


v = read(sys.argv[1])
# 180 degrees about z reverses x and y; about x reverses y and z; about y reverses x and z.
d2 = (v + reverse(v, (1, 2)) + reverse(v, (0, 1)) + reverse(v, (0, 2))) / 4
write(sys.argv[3] + "/d2.mrc", d2, 5.0)
h = read(sys.argv[2])[16:48, 16:48, 16:48]
write(sys.argv[3] + "/hand.mrc", h, 6.0)
write(sys.argv[3] + "/hand_mirror.mrc", reverse(h, (0,)), 6.0)
