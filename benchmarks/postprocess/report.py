#!/usr/bin/env python3
"""Writes benchmarks/results/postprocess/{README.md,postprocess.json} from a run.sh work folder."""
import json
import os
import sys

import mrcfile
import numpy as np

work, results, seeds = sys.argv[1], sys.argv[2], int(sys.argv[3])


def star_blocks(path):
    """{block: (labels, rows)} of a STAR file (pairs blocks as one row)."""
    blocks, name, labels, rows, loop = {}, None, [], [], False
    for line in open(path).read().split('\n') + ['data_end']:
        s = line.strip()
        if s.startswith('data_'):
            if name is not None:
                blocks[name] = (labels, rows if loop else [[v for _, v in pairs]])
            name, labels, rows, loop, pairs = s[5:], [], [], False, []
        elif s.startswith('loop_'):
            loop = True
        elif s.startswith('_'):
            parts = s.split()
            labels.append(parts[0][1:])
            if not loop:
                pairs.append((parts[0][1:], parts[1]))
        elif s and not s.startswith('#') and loop:
            rows.append(s.split())
    return blocks


def general(path):
    labels, rows = star_blocks(path)['general']
    return dict(zip(labels, rows[0]))


def column(path, block, label):
    labels, rows = star_blocks(path)[block]
    i = labels.index(label)
    return np.array([float(r[i]) for r in rows])


def run(prog, tag):
    star = os.path.join(work, 'runs', f'{prog}_{tag}' + ('/postprocess.star' if prog == 'emkit' else '.star'))
    g = general(star)
    t = float(open(os.path.join(work, 'runs', f'{prog}_{tag}.time')).read())
    return {'resolution_A': float(g['rlnFinalResolution']), 'bfactor': float(g['rlnBfactorUsedForSharpening']),
            'guinier_r2': float(g.get('rlnCorrelationFitGuinierPlot', 'nan')), 'seconds': round(t, 2), 'star': star}


box_A = 64 * 2.0
rows = []
for s in ['direct'] + [str(i) for i in range(1, seeds + 1)]:
    rows.append({'seed': s, 'relion': run('relion', s), 'emkit': run('emkit', s)})
rel = np.array([r['relion']['bfactor'] for r in rows[1:]])
emk = np.array([r['emkit']['bfactor'] for r in rows[1:]])
relres = np.array([r['relion']['resolution_A'] for r in rows[1:]])
emres = np.array([r['emkit']['resolution_A'] for r in rows[1:]])
shell_diff = np.abs(box_A / relres - box_A / emres)

d = rows[0]
fsc_diff = max(np.max(np.abs(column(d['relion']['star'], 'fsc', lab)[1:] - column(d['emkit']['star'], 'fsc', lab)[1:]))
               for lab in ['rlnFourierShellCorrelationUnmaskedMaps', 'rlnFourierShellCorrelationMaskedMaps'])
a = mrcfile.open(os.path.join(work, 'runs', 'relion_direct.mrc')).data.astype(np.float64)
b = mrcfile.open(os.path.join(work, 'runs', 'emkit_direct', 'postprocess.mrc')).data.astype(np.float64)
map_diff = float(np.sqrt(((a - b) ** 2).sum() / (a ** 2).sum()))
m1 = mrcfile.open(os.path.join(work, 'relion_mask.mrc')).data
m2 = mrcfile.open(os.path.join(work, 'runs', 'emkit_automask', 'postprocess_mask.mrc')).data
mask_diff = float(np.abs(m1 - m2).max())
load = open(os.path.join(work, 'load.txt')).read().strip().replace('\n', '; ')

summary = {
    'half_maps': '6000 simulated ribosome particles, 64 px, 2 A/px, SNR 0.05, emkit reconstruct --ctf --subset 1|2',
    'seeds': seeds,
    'relion_bfactor_mean': float(rel.mean()), 'relion_bfactor_sd': float(rel.std(ddof=1)),
    'emkit_bfactor_mean': float(emk.mean()), 'emkit_bfactor_sd': float(emk.std(ddof=1)),
    'max_resolution_shell_difference': float(shell_diff.max()),
    'direct_bfactor': [d['relion']['bfactor'], d['emkit']['bfactor']],
    'direct_max_fsc_difference': float(fsc_diff), 'direct_map_relative_rms_difference': map_diff,
    'automask_max_difference': mask_diff, 'load': load,
    'runs': [{k: (v if k == 'seed' else {kk: vv for kk, vv in v.items() if kk != 'star'}) for k, v in r.items()}
             for r in rows],
}
json.dump(summary, open(os.path.join(results, 'postprocess.json'), 'w'), indent=1)

lines = [
    '# Post-processing: emkit postprocess vs relion_postprocess',
    '',
    '`emkit postprocess` ports RELION 3.1\'s relion_postprocess (src/postprocessing.cpp): FSC of the unmasked',
    'and the masked half maps, the masked FSC corrected by phase randomisation beyond the shell where the',
    'unmasked FSC drops below 0.8 (Chen et al. 2013), resolution at FSC 0.143, FSC weighting, B-factor from',
    'a line through the Guinier plot from 10 Å, MTF division, optional low-pass; `--auto-mask` makes the mask',
    'as relion_mask_create does.',
    '',
    'Command: `benchmarks/postprocess/run.sh` (writes this page, `postprocess.json`, `fsc.png`, `guinier.png`).',
    'Half maps: 6000 projections of `../shared/data/maps/ribosome70s_65.mrc` (64 px, 2 Å/px, CTF with defocus',
    '1-3 µm, SNR 0.05) from `emkit simulate particles`, odd and even particles reconstructed with',
    '`emkit reconstruct --ctf --subset 1|2`. Mask: `relion_mask_create --lowpass 15 --ini_threshold 1e-4',
    '--extend_inimask 3 --width_soft_edge 6` on their average; both programs use it, with `--auto_bfac`.',
    f'Machine: 2 cores, shared ({load}).',
    '',
    '## Without FSC weighting (`--skip_fsc_weighting`): nothing random enters the B-factor',
    '',
    '| | relion_postprocess | emkit postprocess |',
    '|---|---|---|',
    f"| resolution (Å) | {d['relion']['resolution_A']:.3f} | {d['emkit']['resolution_A']:.3f} |",
    f"| B-factor (Å²) | {d['relion']['bfactor']:.2f} | {d['emkit']['bfactor']:.2f} |",
    '',
    f'Unmasked and masked FSC: largest difference {fsc_diff:.1e} (RELION writes 6 digits). Sharpened maps:',
    f'relative rms difference {map_diff:.1e}. emkit\'s `--auto-mask` (same settings) against',
    f'relion_mask_create\'s mask: largest voxel difference {mask_diff:.1e}.',
    '',
    f'## RELION\'s default (FSC weighting): {seeds} seeds each',
    '',
    'The B-factor is fitted on the FSC-weighted amplitudes, and the corrected FSC beyond the randomisation',
    'shell depends on the random phases, so each program\'s B-factor changes with its seed. The two',
    'programs draw different random numbers: compare the spread, not seed by seed. RELION 3.1 fits from',
    '`--autob_lowres` to the last shell before the corrected FSC first drops below 1e-4 (not to the final',
    'resolution), where the weight sqrt(2 FSC / (1 + FSC)) of a near-zero, noisy FSC moves ln |F| a lot:',
    'hence the wide spread of both.',
    '',
    '| seed | relion: resolution (Å) | relion: B (Å²) | relion: s | emkit: resolution (Å) | emkit: B (Å²) | emkit: s |',
    '|---|---|---|---|---|---|---|',
]
for r in rows[1:]:
    R, E = r['relion'], r['emkit']
    lines.append(f"| {r['seed']} | {R['resolution_A']:.3f} | {R['bfactor']:.1f} | {R['seconds']:.1f} | "
                 f"{E['resolution_A']:.3f} | {E['bfactor']:.1f} | {E['seconds']:.1f} |")
lines += [
    '',
    f'B-factor mean ± sd: relion_postprocess {rel.mean():.1f} ± {rel.std(ddof=1):.1f}, emkit '
    f'{emk.mean():.1f} ± {emk.std(ddof=1):.1f} Å² (difference of the means '
    f'{100 * abs(emk.mean() - rel.mean()) / abs(rel.mean()):.1f}%). Resolution: at most '
    f'{shell_diff.max():.0f} shell(s) apart; relion_postprocess {relres.min():.2f}-{relres.max():.2f} Å, emkit '
    f'{emres.min():.2f}-{emres.max():.2f} Å over the seeds. Seconds: wall time of one run (emkit with 2 threads;',
    'about 1.5 s of it is starting the binary and loading its plugin, which `emkit postprocess --help` alone',
    'takes; relion_postprocess: 1 thread).',
    '',
    '![FSC curves, emkit seed 1](fsc.png) ![Guinier plot, emkit seed 1](guinier.png)',
    '',
]
open(os.path.join(results, 'README.md'), 'w').write('\n'.join(lines))
print('\n'.join(lines))
