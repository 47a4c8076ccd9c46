#!/usr/bin/env python3
"""Noise-reduction benchmark for `dubstage dialogue denoise` (see bench/dialogue.sh).

Material: the voice recordings of Debian's alsa-utils (/usr/share/sounds/alsa,
48 kHz mono), each with one second of noise first, mixed with five noises
(pink, brown, HVAC-like hum with harmonics, traffic-like modulated rumble, and
alsa's Noise.wav) at 0, 5 and 10 dB SNR (speech RMS over the speech part
against noise RMS over the same part).

Contenders, all given the same first second as the noise sample where they take
one: the noisy input, ffmpeg afftdn (noise profile sampled from the first
second with asendcmd), PyPI noisereduce (stationary, y_noise = first second),
the same capped at the maximum reduction (prop_decrease), dubstage spectral,
dubstage rnnoise.

Metrics (on the speech part, after the lead-in): wide-band PESQ (ITU-T P.862.2,
PyPI `pesq`) at 16 kHz, STOI (PyPI `pystoi`), residual noise in the pauses
(output energy where the clean speech is 40 dB below its peak frame, in dB
relative to the noisy input there), and the output delay (the lag of the
output's cross-correlation peak against the clean speech, within +-50 ms).
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly, lfilter, butter

SR = 48000
ALSA = "/usr/share/sounds/alsa"
VOICES = ["Front_Center", "Front_Left", "Front_Right", "Rear_Center", "Rear_Left", "Rear_Right"]


def colored(n, rng, exponent):
    """Noise with power ~ 1/f^exponent (FFT shaping), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    f[0] = f[1]
    spec *= f ** (-exponent / 2)
    x = np.fft.irfft(spec, n)
    return x / np.sqrt(np.mean(x ** 2))


def hvac(n, rng):
    t = np.arange(n) / SR
    x = np.zeros(n)
    for h, a in [(1, 1.0), (2, 0.6), (3, 0.45), (4, 0.3), (5, 0.2), (6, 0.12), (8, 0.08)]:
        x += a * np.sin(2 * np.pi * 60 * h * t + rng.uniform(0, 2 * np.pi))
    b, a = butter(2, [200 / (SR / 2), 1200 / (SR / 2)], "band")
    air = lfilter(b, a, rng.standard_normal(n))  # the duct's broadband rush
    x = x / np.sqrt(np.mean(x ** 2)) + 0.8 * air / np.sqrt(np.mean(air ** 2))
    return x / np.sqrt(np.mean(x ** 2))


def traffic(n, rng):
    base = colored(n, rng, 1.6)
    b, a = butter(2, 1500 / (SR / 2))
    base = lfilter(b, a, base)
    # slow passes: a smooth random envelope 0.1-0.6 Hz
    k = max(4, n // (SR // 4))
    env = np.interp(np.arange(n), np.linspace(0, n, k), 0.3 + rng.random(k))
    x = base * env
    return x / np.sqrt(np.mean(x ** 2))


def alsa_noise(n, rng):
    x, sr = sf.read(os.path.join(ALSA, "Noise.wav"), dtype="float64")
    if x.ndim > 1:
        x = x.mean(axis=1)
    assert sr == SR
    x = np.tile(x, n // len(x) + 1)[:n]
    return x / np.sqrt(np.mean(x ** 2))


NOISES = {
    "pink": lambda n, r: colored(n, r, 1.0),
    "brown": lambda n, r: colored(n, r, 2.0),
    "hvac": hvac,
    "traffic": traffic,
    "alsa": alsa_noise,
}


def make(out, voices):
    items = []
    for vi, v in enumerate(voices):
        s, sr = sf.read(os.path.join(ALSA, v + ".wav"), dtype="float64")
        assert sr == SR, v
        if s.ndim > 1:
            s = s.mean(axis=1)
        clean = np.concatenate([np.zeros(SR), s])
        for ni, (nn, gen) in enumerate(NOISES.items()):
            noise = gen(len(clean), np.random.default_rng(1000 * vi + ni))
            srms = np.sqrt(np.mean(s ** 2))
            for snr in (0, 5, 10):
                g = srms / 10 ** (snr / 20)
                x = clean + g * noise
                peak = np.max(np.abs(x))
                k = 0.9 / peak if peak > 0.9 else 1.0  # no clipping in the input
                name = f"{v}_{nn}_{snr}"
                sf.write(os.path.join(out, name + "_clean.wav"), clean * k, SR, subtype="FLOAT")
                sf.write(os.path.join(out, name + "_noisy.wav"), x * k, SR, subtype="FLOAT")
                items.append({"name": name, "snr": snr, "noise": nn})
    return items


def run_afftdn(inp, outp, reduction):
    flt = (f"asendcmd=c='0.0 afftdn sn start; 1.0 afftdn sn stop',"
           f"afftdn=nr={reduction}:nf=-25:tn=1")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", inp, "-af", flt,
                    "-c:a", "pcm_f32le", outp], check=True)


def run_noisereduce(inp, outp, reduction=None):
    """noisereduce, stationary, noise clip = the first second. Its default
    (prop_decrease 1) gates as deep as its smoothed mask goes (about -28 dB
    here); with `reduction`, prop_decrease = 1 - 10^(-reduction/20) caps the
    mask at -reduction dB, the maximum the other tools are given."""
    import noisereduce as nr
    x, sr = sf.read(inp, dtype="float32")
    prop = 1.0 if reduction is None else 1.0 - 10 ** (-reduction / 20)
    y = nr.reduce_noise(y=x, sr=sr, y_noise=x[:sr], stationary=True, prop_decrease=prop)
    sf.write(outp, y, sr, subtype="FLOAT")


def run_dubstage(bin_, inp, outp, engine, reduction):
    cmd = [bin_, "dialogue", "denoise", inp, "--out", outp, "--engine", engine,
           "--reduction", str(reduction), "--quiet"]
    if engine == "spectral":
        cmd += ["--learn", "0-1"]
    subprocess.run(cmd, check=True)


def metrics(clean, y):
    from pesq import pesq
    from pystoi import stoi
    n = min(len(clean), len(y))
    clean, y = clean[:n], y[:n]
    # delay: cross-correlation peak within +-50 ms (full signal)
    from scipy.signal import correlate
    m = int(0.05 * SR)
    c0 = clean[SR:n - m]
    yy = y[SR - m:n]
    xc = correlate(yy, c0, mode="valid", method="fft")  # lag L at index L + m
    best = int(np.argmax(xc)) - m
    # speech part only, at 16 kHz, the output's delay (if any) compensated so
    # that PESQ and STOI judge the processing, not the latency
    ys = y[SR + best:n] if best >= 0 else np.concatenate([np.zeros(-best), y[SR:n + best]])
    c16 = resample_poly(clean[SR:SR + len(ys)], 1, 3)
    y16 = resample_poly(ys, 1, 3)
    try:
        p = pesq(16000, c16, y16, "wb")
    except Exception:
        p = float("nan")
    s = stoi(c16, y16, 16000, extended=False)
    return p, s, best


def pause_mask(clean):
    f = 960
    k = len(clean) // f
    e = np.array([np.mean(clean[i * f:(i + 1) * f] ** 2) for i in range(k)])
    thr = e.max() * 1e-4
    mask = np.zeros(len(clean), bool)
    for i in range(k):
        # pauses inside the speech part (after the lead-in)
        if e[i] < thr and i * f >= SR:
            mask[i * f:(i + 1) * f] = True
    return mask


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", default="/tmp/dubstage-dialogue-bench")
    ap.add_argument("--voices", type=int, default=6)
    ap.add_argument("--reduction", type=float, default=20.0)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    items = make(a.out, VOICES[:a.voices])
    methods = ["noisy", "afftdn", "noisereduce", "noisereduce-capped", "dubstage-spectral",
               "dubstage-rnnoise"]
    rows = []
    times = {m: 0.0 for m in methods}
    for it in items:
        base = os.path.join(a.out, it["name"])
        clean, _ = sf.read(base + "_clean.wav", dtype="float64")
        noisy, _ = sf.read(base + "_noisy.wav", dtype="float64")
        mask = pause_mask(clean)
        for m in methods:
            outp = f"{base}_{m}.wav"
            t = time.perf_counter()
            if m == "noisy":
                outp = base + "_noisy.wav"
            elif m == "afftdn":
                run_afftdn(base + "_noisy.wav", outp, a.reduction)
            elif m == "noisereduce":
                run_noisereduce(base + "_noisy.wav", outp)
            elif m == "noisereduce-capped":
                run_noisereduce(base + "_noisy.wav", outp, a.reduction)
            else:
                run_dubstage(a.bin, base + "_noisy.wav", outp, m.split("-")[1], a.reduction)
            times[m] += time.perf_counter() - t
            y, _ = sf.read(outp, dtype="float64")
            if y.ndim > 1:
                y = y[:, 0]
            p, s, lag = metrics(clean, y)
            if mask.any():
                resid = 10 * np.log10(np.sum(y[:len(mask)][mask] ** 2) / np.sum(noisy[mask] ** 2))
            else:
                resid = float("nan")
            rows.append({**it, "method": m, "pesq": p, "stoi": s, "pause_db": resid, "delay": lag})
    # table: per SNR, per method: mean PESQ, STOI, pause residual, max |delay|
    print(f"{len(items)} mixtures ({a.voices} voices x {len(NOISES)} noises x 3 SNRs), max reduction {a.reduction} dB")
    print()
    print("| SNR | method | PESQ-WB | STOI | residual in pauses (dB) | max abs delay (samples) |")
    print("|---|---|---|---|---|---|")
    summary = {}
    for snr in (0, 5, 10):
        for m in methods:
            r = [x for x in rows if x["snr"] == snr and x["method"] == m]
            pq = np.nanmean([x["pesq"] for x in r])
            st = np.mean([x["stoi"] for x in r])
            pd = np.nanmean([x["pause_db"] for x in r])
            dl = max(abs(x["delay"]) for x in r)
            summary[f"{snr}/{m}"] = {"pesq": pq, "stoi": st, "pause_db": pd, "max_delay": dl}
            print(f"| {snr} dB | {m} | {pq:.3f} | {st:.3f} | {pd:.1f} | {dl} |")
    print()
    print("per noise, 5 and 10 dB, PESQ-WB:")
    for nn in NOISES:
        cells = []
        for m in methods:
            r = [x["pesq"] for x in rows if x["noise"] == nn and x["snr"] in (5, 10) and x["method"] == m]
            cells.append(f"{m} {np.nanmean(r):.2f}")
        print(f"  {nn:8s} " + ", ".join(cells))
    print()
    print("wall time over all mixtures (process start-up included): " +
          ", ".join(f"{m} {times[m]:.1f} s" for m in methods if m != "noisy"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "summary": summary}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
