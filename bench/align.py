#!/usr/bin/env python3
"""ADR alignment benchmark for `dubstage dialogue align` (see bench/align.sh).

Material: a "line" made of Debian alsa-utils' six voice recordings
(/usr/share/sounds/alsa, 48 kHz mono) one after another with pauses between
them, a second of silence first (about 13 s in all).

Each dub is the line time-warped by a known map with Rubber Band (Debian's
`rubberband-cli`, `--timemap`: key frames every 50 ms, pitch unchanged),
then moved to another "room": a 150 Hz high-pass, a 6 kHz low-pass, 4 dB
quieter, and pink noise 30 dB under the speech. The maps:

* `slower6`: 6 % slower throughout (a constant map);
* `wobble`: the local speed swings +-8 % around 1 with a 3 s period;
* `pauses`: the words at their own speed, the pauses 200 ms longer or shorter
  in turn, and a 3 % faster delivery;
* `identity`: the line itself as the dub (must be copied byte for byte).

The dub is aligned back to the line (`dubstage dialogue align LINE DUB`), and
the aligned output is compared with the line by local cross-correlation, as
the issue asks: 200 ms windows every 100 ms where the line has speech (window
RMS within 30 dB of the loudest), both band-passed to 200 Hz-4 kHz, the lag of
the normalized cross-correlation peak within +-150 ms. Reported: the median
and 95th percentile of |lag| in ms, after and before alignment, against the
goals (median <= 10 ms, 95th percentile <= 25 ms). This measure is written here
independently of dubstage's own residual figure (also shown).
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import soundfile as sf
from scipy.signal import butter, sosfiltfilt, sosfilt

SR = 48000
ALSA = "/usr/share/sounds/alsa"
VOICES = ["Front_Center", "Front_Left", "Front_Right", "Rear_Center", "Rear_Left", "Rear_Right"]
PAUSE = 0.6  # seconds between the recordings


def make_line():
    parts = [np.zeros(SR)]
    segs = []  # (start, end) of each recording, in samples
    pos = SR
    for v in VOICES:
        x, sr = sf.read(os.path.join(ALSA, v + ".wav"), dtype="float64")
        assert sr == SR, v
        if x.ndim > 1:
            x = x.mean(axis=1)
        parts += [x, np.zeros(int(PAUSE * SR))]
        segs.append((pos, pos + len(x)))
        pos += len(x) + int(PAUSE * SR)
    return np.concatenate(parts), segs


def keyframes(name, n, segs):
    """Source -> target sample pairs of the warp, and the total output length."""
    t = np.arange(0, n, SR // 20, dtype=np.int64)
    if name == "slower6":
        tgt = np.round(t * 1.06)
    elif name == "wobble":
        # local speed 1 + 0.08 sin(2 pi u / 3): W(t) = t + 0.08*3/(2 pi) (1 - cos(2 pi t / 3))
        u = t / SR
        tgt = np.round((u + 0.08 * 3 / (2 * np.pi) * (1 - np.cos(2 * np.pi * u / 3))) * SR)
    elif name == "pauses":
        # speech at 0.97 x its duration, each pause 200 ms longer or shorter in turn
        pts_s, pts_t = [0], [0]
        cur = 0.0
        prev_end = 0
        for i, (a, b) in enumerate(segs):
            gap = a - prev_end
            if i > 0:
                gap += (0.2 if i % 2 else -0.2) * SR
            cur += gap
            pts_s.append(a)
            pts_t.append(cur)
            cur += 0.97 * (b - a)
            pts_s.append(b)
            pts_t.append(cur)
            prev_end = b
        cur += n - prev_end
        pts_s.append(n)
        pts_t.append(cur)
        tgt = np.round(np.interp(t, pts_s, pts_t))
        return t, tgt.astype(np.int64), int(round(cur))
    else:
        raise ValueError(name)
    total = {"slower6": n * 1.06, "wobble": tgt[-1] + (n - t[-1])}[name]
    return t, tgt.astype(np.int64), int(round(total))


def room(x, rng):
    hp = butter(2, 150 / (SR / 2), "high", output="sos")
    lp = butter(2, 6000 / (SR / 2), "low", output="sos")
    y = sosfilt(lp, sosfilt(hp, x)) * 10 ** (-4 / 20)
    spec = np.fft.rfft(rng.standard_normal(len(y)))
    f = np.fft.rfftfreq(len(y), 1 / SR)
    f[0] = f[1]
    pink = np.fft.irfft(spec / np.sqrt(f), len(y))
    speech_rms = np.sqrt(np.mean(y[np.abs(y) > 1e-4] ** 2))
    pink *= speech_rms * 10 ** (-30 / 20) / np.sqrt(np.mean(pink ** 2))
    return y + pink


def local_lags(guide, y):
    """|lag| in ms of the cross-correlation peak, per 200 ms speech window."""
    bp = butter(4, [200 / (SR / 2), 4000 / (SR / 2)], "band", output="sos")
    g = sosfiltfilt(bp, guide)
    n = min(len(g), len(y))
    yy = np.zeros(len(g))
    yy[:n] = sosfiltfilt(bp, y[:n]) if n > 30 else 0
    w, hop, m = SR // 5, SR // 10, int(0.15 * SR)
    starts = range(m, len(g) - w - m, hop)
    rms = np.array([np.sqrt(np.mean(g[s:s + w] ** 2)) for s in starts])
    thr = rms.max() * 10 ** (-30 / 20)
    lags = []
    for s, r in zip(starts, rms):
        if r < thr:
            continue
        a = g[s:s + w]
        seg = yy[s - m:s + w + m]
        # normalized cross-correlation over lags -m..m
        c = np.correlate(seg, a, mode="valid")
        e = np.convolve(seg ** 2, np.ones(w), mode="valid")
        c = c / np.sqrt(np.maximum(e, 1e-20) * np.sum(a ** 2))
        lags.append(abs(int(np.argmax(c)) - m) * 1000 / SR)
    return np.array(lags)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", default="/tmp/dubstage-align-bench")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    line, segs = make_line()
    lp = os.path.join(a.out, "line.wav")
    sf.write(lp, line, SR, subtype="FLOAT")
    rng = np.random.default_rng(7)
    rows = []
    print(f"line: {len(line) / SR:.2f} s, 6 alsa voices; goals: median <= 10 ms, 95th percentile <= 25 ms")
    print()
    print("| warp | before: median / p95 (ms) | after: median / p95 (ms) | windows | dubstage's own residual after (median / p95) | goal |")
    print("|---|---|---|---|---|---|")
    for name in ["slower6", "wobble", "pauses"]:
        src, tgt, total = keyframes(name, len(line), segs)
        mp = os.path.join(a.out, f"{name}.map")
        with open(mp, "w") as f:
            for s, t in zip(src, tgt):
                f.write(f"{s} {t}\n")
        warped = os.path.join(a.out, f"{name}_warped.wav")
        subprocess.run(["rubberband", "-q", "-3", "-M", mp, "-D", f"{total / SR:.6f}", lp, warped],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        w, _ = sf.read(warped, dtype="float64")
        if w.ndim > 1:
            w = w[:, 0]
        dub = room(w, rng)
        dp = os.path.join(a.out, f"{name}_dub.wav")
        sf.write(dp, dub, SR, subtype="FLOAT")
        ap_ = os.path.join(a.out, f"{name}_aligned.wav")
        r = subprocess.run([a.bin, "dialogue", "align", lp, dp, "--out", ap_, "--json"],
                           check=True, capture_output=True, text=True)
        rep = json.loads(r.stdout)
        y, _ = sf.read(ap_, dtype="float64")
        before = local_lags(line, dub)
        after = local_lags(line, y)
        row = {
            "warp": name,
            "before_median_ms": float(np.median(before)), "before_p95_ms": float(np.percentile(before, 95)),
            "median_ms": float(np.median(after)), "p95_ms": float(np.percentile(after, 95)),
            "windows": len(after),
            "dubstage_after": rep.get("residual_after"),
        }
        ok = row["median_ms"] <= 10 and row["p95_ms"] <= 25
        row["goal_met"] = ok
        rows.append(row)
        own = rep.get("residual_after") or {}
        print(f"| {name} | {row['before_median_ms']:.1f} / {row['before_p95_ms']:.1f} | "
              f"**{row['median_ms']:.1f} / {row['p95_ms']:.1f}** | {row['windows']} | "
              f"{own.get('median_ms', float('nan')):.1f} / {own.get('p95_ms', float('nan')):.1f} | "
              f"{'met' if ok else 'NOT met'} |")
    # identity: the line as its own dub is left alone, byte for byte
    ip = os.path.join(a.out, "identity_aligned.wav")
    subprocess.run([a.bin, "dialogue", "align", lp, lp, "--out", ip], check=True, capture_output=True)
    same = sha(ip) == sha(lp)
    print(f"| identity | 0 / 0 | copied byte for byte: {'yes' if same else 'NO'} | | | {'met' if same else 'NOT met'} |")
    rows.append({"warp": "identity", "byte_identical": same, "goal_met": same})
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0 if all(r["goal_met"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
