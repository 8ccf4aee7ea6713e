#!/usr/bin/env python3
"""How separable the class3d benchmark's two conformations are: the best any classifier can do.

usage: oracle.py WORKDIR EMKIT [RESOLUTION_A ...]
Projects both true maps at every particle's true orientation, offset and CTF (`emkit simulate particles --angles
true_angles.star --write-noiseless`), then gives each particle the class whose noiseless projection explains it
best (the likelihood ratio under the simulator's white Gaussian noise, both classes equally likely), using only the
Fourier components up to each resolution (a class map is never better than the resolution it is refined to).
Prints, per resolution, the accuracy against the truth and the median |log-likelihood difference|: an upper
bound for any 3D classification of these particles, which must also find the orientations.
"""
import json
import os
import subprocess
import sys

import mrcfile
import numpy as np

work, emkit = sys.argv[1], sys.argv[2]
resolutions = [float(r) for r in sys.argv[3:]] or [60, 40, 30, 25, 20, 15, 10]
truth = np.loadtxt(os.path.join(work, 'truth.txt'), dtype=int)
clean = {}
for c in 'AB':
    out = os.path.join(work, 'oracle_' + c)
    if not os.path.exists(os.path.join(out, 'particles_noiseless.mrcs')):
        subprocess.run([emkit, 'simulate', 'particles', '--map', os.path.join(work, 'truth%s64.mrc' % c),
                        '--pixel-size', '5', '--box', '64', '--angles', os.path.join(work, 'true_angles.star'),
                        '--snr', '1', '--write-noiseless', '-q', '-o', out, '--overwrite'], check=True)
    with mrcfile.open(os.path.join(out, 'particles_noiseless.mrcs'), permissive=True) as m:
        clean[c] = np.asarray(m.data, dtype=np.float64)

# The particles as the programs see them (the merged stack order is that of particles.star).
star = open(os.path.join(work, 'particles.star')).read().split('\n')
names = [l.split() for l in star if '@' in l]
col = None
labels = [l.split()[0] for l in star if l.strip().startswith('_rln')]
col = labels.index('_rlnImageName') - (len(labels) - len(names[0])) if names else 0
images = []
stacks = {}
for row in names:
    idx, path = row[col].split('@')
    path = path if os.path.isabs(path) else os.path.join(work, path)
    if path not in stacks:
        stacks[path] = mrcfile.mmap(path, permissive=True).data
    images.append(np.asarray(stacks[path][int(idx) - 1], dtype=np.float64))
x = np.stack(images)
n, box = x.shape[0], x.shape[1]
true_clean = np.where((truth == 1)[:, None, None], clean['A'], clean['B'])
sigma = np.std(x - true_clean)

fx = np.fft.fftfreq(box)
radius = np.sqrt(fx[:, None] ** 2 + fx[None, :] ** 2)  # cycles per pixel
X, A, B = (np.fft.fft2(v) for v in (x, clean['A'], clean['B']))
result = {'n': int(n), 'noise_sigma': float(sigma), 'resolutions': []}
print('resolution_A  accuracy  median_|dLL|')
for res in resolutions:
    band = radius <= 5.0 / res  # 5 Å/px
    # Parseval: sum over the full FFT grid / box^2 = real-space sum of squares of the band-limited images.
    da = (np.abs(X - A) ** 2 * band).sum(axis=(1, 2)) / box ** 2
    db = (np.abs(X - B) ** 2 * band).sum(axis=(1, 2)) / box ** 2
    dll = (db - da) / (2 * sigma ** 2)  # > 0: class A explains the particle better
    guess = np.where(dll > 0, 1, 2)
    acc = float((guess == truth).mean())
    result['resolutions'].append({'resolution_A': res, 'accuracy': acc, 'median_abs_dll': float(np.median(np.abs(dll)))})
    print('%12.0f  %8.3f  %12.2f' % (res, acc, np.median(np.abs(dll))))
json.dump(result, open(os.path.join(work, 'oracle.json'), 'w'), indent=1)
