//! End-to-end tests of the delivery formats (issue #5): RF64/BW64 past the
//! size threshold, the Broadcast Wave `bext` chunk of every deliverable (time
//! reference, v2 loudness fields), every input format (FLAC, 16/24-bit PCM,
//! 64-bit float, multi-mono, side-surround masks), 7.1 and its fold-downs, and
//! the `SHA256SUMS` manifest. Outside tools (ffprobe, sox, sha256sum) are
//! independent readers: they must exist under CI, elsewhere a missing one is a
//! printed skip note.

#![allow(
    clippy::needless_range_loop,
    reason = "the oracles read best as sample/channel index loops, like the formulas"
)]
mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const SR: u32 = 48_000;
/// Two seconds at 48 kHz: every reel below is `00:00:02:00` long at 24 fps.
const N: usize = 96_000;
/// 01:00:00:00 in samples since midnight at 48 kHz (EBU Tech 3285 TimeReference).
const ONE_HOUR: u64 = 3600 * 48_000;
/// -3 dB, the BS.775 coefficient (ITU-R BS.775-3, Table 2: 1/sqrt 2).
const K: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// Whether an outside tool can be run: a skip note when it cannot, a failure under CI.
fn have(tool: &str, arg: &str) -> bool {
    let ok = Command::new(tool)
        .arg(arg)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("{tool} is required when CI is set (CI installs ffmpeg, sox and coreutils)");
        }
        eprintln!("skip: {tool} not found");
    }
    ok
}

/// Runs a command, asserting success, returning stdout.
fn run(cmd: &mut Command) -> String {
    let o = cmd.output().expect("spawn");
    assert!(
        o.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// A session of one reel, 2 s long from 01:00:00:00 at 24 fps, with `body`
/// (the `[output]`, `[[stem]]`, `[[deliverable]]` tables) appended.
fn session(title: &str, body: &str) -> String {
    format!(
        "[reel]\ntitle = \"{title}\"\nreel = 1\nframe_rate = \"24\"\nstart = \"01:00:00:00\"\n\
         ffoa = \"01:00:00:00\"\nlength = \"00:00:02:00\"\n\n{body}\n"
    )
}

/// Writes `session.toml` into `dir`, renders it into `dir/out` (with `--json`)
/// and returns the output folder and the parsed summary.
fn render(dir: &Path, text: &str) -> (PathBuf, Value) {
    std::fs::write(dir.join("session.toml"), text).unwrap();
    let out = dir.join("out");
    let o = render_ok(&dir.join("session.toml"), &out, &["--json"]);
    (out, serde_json::from_str(&o).expect("render --json"))
}

/// `dubstage inspect --json` of one file.
fn inspect(path: &Path) -> Value {
    let o = ok(&["inspect", "--json", path.to_str().unwrap()]);
    let v: Value = serde_json::from_str(&o).unwrap();
    v[0].clone()
}

/// The deliverable WAV files of a render folder (the manifest and qc/ left out).
fn wavs(out: &Path) -> Vec<String> {
    files_in(out)
        .into_iter()
        .filter(|n| n.ends_with(".wav"))
        .collect()
}

/// The chunks of a RIFF/RF64/BW64 file: (id, body offset, body length as
/// written in the chunk header). For RF64/BW64 a `data` size of 0xFFFFFFFF is
/// kept as is (the real size is in `ds64`).
fn chunks(b: &[u8]) -> Vec<([u8; 4], usize, u32)> {
    let mut v = Vec::new();
    let mut o = 12;
    while o + 8 <= b.len() {
        let id: [u8; 4] = b[o..o + 4].try_into().unwrap();
        let len = u32::from_le_bytes(b[o + 4..o + 8].try_into().unwrap());
        v.push((id, o + 8, len));
        if &id == b"data" {
            break;
        }
        o += 8 + len as usize + (len as usize & 1);
    }
    v
}

/// The body of the first chunk `id`.
fn chunk<'a>(b: &'a [u8], id: &[u8; 4]) -> &'a [u8] {
    let (_, off, len) = *chunks(b)
        .iter()
        .find(|c| &c.0 == id)
        .unwrap_or_else(|| panic!("no {} chunk", String::from_utf8_lossy(id)));
    let len = if &id[..] == b"data" && len == u32::MAX {
        b.len() - off
    } else {
        len as usize
    };
    &b[off..off + len]
}

/// Writes a WAV by hand: `float` selects IEEE float (format 3) over PCM
/// (format 1) at `bits`; with a `mask`, the fmt chunk is WAVE_FORMAT_EXTENSIBLE
/// with that dwChannelMask (Microsoft, "Multiple channel audio data and WAVE
/// files"). Samples in [-1, 1), interleaved from the planar `chans`.
fn write_wav(path: &Path, float: bool, bits: u16, mask: Option<u32>, chans: &[Vec<f64>]) {
    let nch = chans.len() as u16;
    let bps = bits / 8;
    let tag: u16 = if float { 3 } else { 1 };
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&if mask.is_some() { 0xFFFEu16 } else { tag }.to_le_bytes());
    fmt.extend_from_slice(&nch.to_le_bytes());
    fmt.extend_from_slice(&SR.to_le_bytes());
    fmt.extend_from_slice(&(SR * u32::from(nch * bps)).to_le_bytes());
    fmt.extend_from_slice(&(nch * bps).to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    if let Some(m) = mask {
        fmt.extend_from_slice(&22u16.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        fmt.extend_from_slice(&m.to_le_bytes());
        // KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT: {0000000X-0000-0010-8000-00AA00389B71}
        fmt.extend_from_slice(&u32::from(tag).to_le_bytes());
        fmt.extend_from_slice(&[
            0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
        ]);
    }
    let mut data = Vec::new();
    for i in 0..chans[0].len() {
        for c in chans {
            let x = c[i];
            match (float, bits) {
                (true, 64) => data.extend_from_slice(&x.to_le_bytes()),
                (true, 32) => data.extend_from_slice(&(x as f32).to_le_bytes()),
                (false, 16) => {
                    data.extend_from_slice(&((x * 32768.0).round() as i16).to_le_bytes())
                }
                (false, 24) => {
                    data.extend_from_slice(&((x * 8_388_608.0).round() as i32).to_le_bytes()[..3])
                }
                _ => unreachable!("unsupported test format"),
            }
        }
    }
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&((4 + 8 + fmt.len() + 8 + data.len()) as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    b.extend_from_slice(&fmt);
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(&data);
    std::fs::write(path, b).unwrap();
}

/// Planar noise, one independent channel per seed, in f64.
fn noise64(seed: u64, chans: usize, n: usize, a: f32) -> Vec<Vec<f64>> {
    (0..chans as u64)
        .map(|c| {
            noise(seed * 100 + c, n, a)
                .into_iter()
                .map(f64::from)
                .collect()
        })
        .collect()
}

/// Widens hound's f32 planar read-back.
fn f64s(v: &[Vec<f32>]) -> Vec<Vec<f64>> {
    v.iter()
        .map(|c| c.iter().map(|&x| f64::from(x)).collect())
        .collect()
}

/// A small 5.1 reel: a 5.1 effects stem and a mono dialogue stem (float WAVs).
fn small_reel(dir: &Path) {
    std::fs::create_dir_all(dir.join("stems")).unwrap();
    let fx: Vec<Vec<f32>> = (0..6).map(|c| noise(20 + c, N, 0.15)).collect();
    write_f32(&dir.join("stems/fx.wav"), SR, &fx);
    write_f32(&dir.join("stems/dx.wav"), SR, &[noise(7, N, 0.3)]);
}

const SMALL_STEMS: &str = r#"
[[stem]]
id = "dx"
kind = "dialogue"
source = "stems/dx.wav"

[[stem]]
id = "fx"
kind = "effects"
source = "stems/fx.wav"
layout = "5.1"
"#;

// ------------------------------------------------------------ 1. RF64 / BW64

/// Renders the small reel with `output` as the `[output]` table, returning the
/// output folder, the summary, and every deliverable's bytes.
fn small_render(name: &str, output: &str) -> (PathBuf, Value, Vec<(String, Vec<u8>)>) {
    let dir = tmpdir(name);
    small_reel(&dir);
    let (out, v) = render(
        &dir,
        &session("Fmt", &format!("[output]\n{output}\n{SMALL_STEMS}")),
    );
    let files = wavs(&out)
        .into_iter()
        .map(|n| {
            let b = std::fs::read(out.join(&n)).unwrap();
            (n, b)
        })
        .collect();
    (out, v, files)
}

#[test]
fn rf64_threshold_writes_rf64_that_inspect_and_ffprobe_read() {
    let (out, v, files) = small_render("rf64", "rf64_threshold = 1000");
    // printmaster, Lo/Ro, M&E, DX, FX stems (no MX stem: no music) at least
    assert!(
        files.len() >= 5,
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    for (name, b) in &files {
        assert_eq!(&b[0..4], b"RF64", "{name}");
        assert_eq!(&b[8..12], b"WAVE", "{name}");
        // EBU Tech 3306: ds64 is the first chunk, RIFF size and data size are -1 there.
        assert_eq!(&b[12..16], b"ds64", "{name}: ds64 must be the first chunk");
        assert_eq!(u32::from_le_bytes(b[4..8].try_into().unwrap()), u32::MAX);
        let ds64 = chunk(b, b"ds64");
        let riff_size = u64::from_le_bytes(ds64[0..8].try_into().unwrap());
        let data_size = u64::from_le_bytes(ds64[8..16].try_into().unwrap());
        let sample_count = u64::from_le_bytes(ds64[16..24].try_into().unwrap());
        assert_eq!(riff_size, b.len() as u64 - 8, "{name}: ds64 riffSize");
        let (_, data_off, data_len32) = *chunks(b).last().unwrap();
        assert_eq!(data_len32, u32::MAX, "{name}: data size lives in ds64");
        assert_eq!(
            data_size,
            (b.len() - data_off) as u64,
            "{name}: ds64 dataSize"
        );
        // sampleCount: frames (what EBU 3306 calls it), 2 s at 48 kHz
        let fmt = chunk(b, b"fmt ");
        let block_align = u16::from_le_bytes(fmt[12..14].try_into().unwrap()) as u64;
        assert_eq!(data_size / block_align, N as u64, "{name}");
        assert_eq!(sample_count, N as u64, "{name}: ds64 sampleCount");

        let i = inspect(&out.join(name));
        assert_eq!(i["container"], "Rf64", "{name}");
        assert_eq!(i["frames"], N as u64, "{name}");
        assert_eq!(i["sample_rate"], SR, "{name}");
        // the manifest's hash is the hash of the finished file (header rewritten last)
        assert!(
            sums.contains(&format!("{}  {name}\n", sha256(&out.join(name)))),
            "{name}"
        );
    }
    let pm = out.join("Fmt_R1_PM_5.1.wav");
    assert_eq!(inspect(&pm)["channels"], 6);
    assert_eq!(inspect(&pm)["layout"], "5.1");
    // the summary agrees
    for d in v["deliverables"].as_array().unwrap() {
        assert_eq!(d["frames"], N as u64);
    }
    if have("ffprobe", "-version") {
        for (name, _) in &files {
            let o = run(Command::new("ffprobe")
                .args([
                    "-v",
                    "error",
                    "-show_entries",
                    "stream=channels,duration,sample_rate",
                ])
                .args(["-of", "json"])
                .arg(out.join(name)));
            let j: Value = serde_json::from_str(&o).unwrap();
            let s = &j["streams"][0];
            let dur: f64 = s["duration"].as_str().unwrap().parse().unwrap();
            assert!((dur - 2.0).abs() < 1e-6, "{name}: ffprobe duration {dur}");
            let want = if name.contains("_2.0") { 2 } else { 6 };
            assert_eq!(s["channels"], want, "{name}");
            assert_eq!(s["sample_rate"], "48000", "{name}");
        }
    }
}

#[test]
fn bw64_and_plain_riff() {
    let (out, _, bw) = small_render("bw64", "rf64_threshold = 1000\nbw64 = true");
    let (_, _, riff) = small_render("riff", "");
    assert_eq!(bw.len(), riff.len());
    for ((name, b), (rname, r)) in bw.iter().zip(&riff) {
        assert_eq!(name, rname);
        assert_eq!(&b[0..4], b"BW64", "{name}");
        assert_eq!(&b[12..16], b"ds64", "{name}");
        assert_eq!(inspect(&out.join(name))["container"], "Bw64", "{name}");
        // below the default threshold (just under 4 GiB): plain RIFF with real sizes
        assert_eq!(&r[0..4], b"RIFF", "{rname}");
        assert_eq!(
            u32::from_le_bytes(r[4..8].try_into().unwrap()) as usize,
            r.len() - 8,
            "{rname}: RIFF size"
        );
        assert!(
            chunks(r).iter().all(|c| &c.0 != b"ds64"),
            "{rname} has ds64"
        );
        // same audio either way
        assert_eq!(
            chunk(b, b"data"),
            chunk(r, b"data"),
            "{name}: audio differs"
        );
    }
}

// ------------------------------------------------------------------ 2. bext

#[test]
fn bext_carries_time_reference_text_and_v2_loudness() {
    let dir = tmpdir("bext");
    small_reel(&dir);
    let (out, v) = render(
        &dir,
        &session(
            "Night Train",
            &format!("[delivery]\nprofile = \"ebu-r128\"\n{SMALL_STEMS}"),
        ),
    );
    let ds = v["deliverables"].as_array().unwrap();
    assert!(ds.len() >= 5);
    // ebu-r128 normalizes the printmaster to -23 LUFS (EBU R 128, +-0.5 LU here: 1 LU tolerance)
    let pm = ds.iter().find(|d| d["kind"] == "printmaster").unwrap();
    let pm_i = pm["loudness"]["integrated_lufs"].as_f64().unwrap();
    assert!((pm_i + 23.0).abs() < 0.5, "printmaster at {pm_i} LUFS");
    for d in ds {
        let f = &d["files"][0];
        let path = PathBuf::from(f["path"].as_str().unwrap());
        let i = inspect(&path);
        let b = &i["bext"];
        let name = path.display();
        assert_eq!(b["time_reference"], ONE_HOUR, "{name}");
        assert_eq!(i["start_timecode"], "01:00:00:00", "{name}");
        assert_eq!(b["version"], 2, "{name}");
        assert_eq!(b["originator"], "dubstage", "{name}");
        let desc = b["description"].as_str().unwrap();
        assert!(desc.starts_with("Night Train reel 1 "), "{name}: {desc:?}");
        assert!(
            desc.ends_with(d["layout"].as_str().unwrap()),
            "{name}: {desc:?}"
        );
        assert!(
            b["coding_history"]
                .as_str()
                .unwrap()
                .starts_with("A=PCM,F=48000,W=24,")
        );
        // v2 loudness fields: int16 x 100 (EBU Tech 3285 v2), so within 0.005 of the render's figures
        let l = &d["loudness"];
        for (bext_key, json_key) in [
            ("integrated_lufs", "integrated_lufs"),
            ("range_lu", "loudness_range_lu"),
            ("max_true_peak_dbtp", "true_peak_dbtp"),
            ("max_momentary_lufs", "max_momentary_lufs"),
            ("max_short_term_lufs", "max_short_term_lufs"),
        ] {
            let got = &b["loudness"][bext_key];
            let want = &l[json_key];
            match (got.as_f64(), want.as_f64()) {
                (Some(g), Some(w)) => assert!(
                    (g - w).abs() <= 0.005 + 1e-9,
                    "{name}: bext {bext_key} {g} vs render {json_key} {w}"
                ),
                (None, None) => {}
                _ => panic!("{name}: bext {bext_key} {got} vs render {json_key} {want}"),
            }
        }
        // the printmaster's are real values, not "unset"
        if d["kind"] == "printmaster" {
            let g = b["loudness"]["integrated_lufs"].as_f64().unwrap();
            assert!((g - pm_i).abs() <= 0.005 + 1e-9);
            assert!(b["loudness"]["max_true_peak_dbtp"].as_f64().unwrap() <= -1.0 + 0.005);
        }
    }
    // the bytes agree with inspect: TimeReference at offset 338 of the bext body
    let pm_path = out.join("Night_Train_R1_PM_5.1.wav");
    let b = std::fs::read(&pm_path).unwrap();
    let body = chunk(&b, b"bext");
    assert_eq!(
        u64::from_le_bytes(body[338..346].try_into().unwrap()),
        ONE_HOUR
    );
    assert_eq!(u16::from_le_bytes([body[346], body[347]]), 2);
    let il = i16::from_le_bytes([body[412], body[413]]);
    assert_eq!(il, (pm_i * 100.0).round() as i16, "LoudnessValue x100");
    if have("ffprobe", "-version") {
        let o = run(Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", "format_tags", "-of", "json"])
            .arg(&pm_path));
        let j: Value = serde_json::from_str(&o).unwrap();
        let tags = &j["format"]["tags"];
        assert_eq!(tags["time_reference"], ONE_HOUR.to_string(), "{o}");
        // ffmpeg's WAV demuxer names Description `comment` and Originator `encoded_by`
        assert_eq!(tags["comment"], "Night Train reel 1 printmaster 5.1", "{o}");
        assert_eq!(tags["encoded_by"], "dubstage", "{o}");
        assert!(
            tags["originator_reference"]
                .as_str()
                .unwrap()
                .starts_with("dubstage-")
        );
    }
}

// --------------------------------------------------------- 3. input formats

/// A session routing one stem of `layout` (`stem` is the `source`/`sources`
/// lines) to a float32 printmaster only.
fn one_stem(title: &str, layout: &str, stem: &str) -> String {
    session(
        title,
        &format!(
            "[output]\nformat = \"float32\"\n\n[[stem]]\nid = \"s\"\nkind = \"effects\"\n{stem}\n\n\
             [[deliverable]]\nkind = \"printmaster\"\nlayout = \"{layout}\"\n"
        ),
    )
}

#[test]
fn flac_stem_renders_the_same_bytes_as_the_wav() {
    if !have("sox", "--version") {
        return;
    }
    // A 24-bit 5.1 WAV (hound writes WAVE_FORMAT_EXTENSIBLE, mask 0x3F, for 6 channels).
    let chans: Vec<Vec<f32>> = (0..6).map(|c| noise(40 + c, N, 0.4)).collect();
    let mk = |name: &str| {
        let d = tmpdir(name);
        std::fs::create_dir_all(d.join("stems")).unwrap();
        let spec = hound::WavSpec {
            channels: 6,
            sample_rate: SR,
            bits_per_sample: 24,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(d.join("stems/fx.wav"), spec).unwrap();
        for i in 0..N {
            for c in &chans {
                w.write_sample((c[i] * 8_388_608.0).round() as i32).unwrap();
            }
        }
        w.finalize().unwrap();
        d
    };
    let (a, b) = (mk("flac-wav"), mk("flac-flac"));
    run(Command::new("sox")
        .arg(b.join("stems/fx.wav"))
        .arg(b.join("stems/fx.flac")));
    assert_eq!(
        &std::fs::read(b.join("stems/fx.flac")).unwrap()[0..4],
        b"fLaC"
    );
    // dubstage tells formats by their magic bytes; giving both sources the same name keeps
    // the session text, and so the session hash in the bext OriginatorReference, identical.
    std::fs::rename(a.join("stems/fx.wav"), a.join("stems/fx.src")).unwrap();
    std::fs::rename(b.join("stems/fx.flac"), b.join("stems/fx.src")).unwrap();
    let text = session(
        "Flac",
        "[[stem]]\nid = \"fx\"\nkind = \"effects\"\nsource = \"stems/fx.src\"\nlayout = \"5.1\"\n",
    );
    let (oa, _) = render(&a, &text);
    let (ob, _) = render(&b, &text);
    assert_eq!(inspect(&b.join("stems/fx.src"))["container"], "Flac");
    let names = wavs(&oa);
    assert!(names.len() >= 4, "{names:?}");
    assert_eq!(names, wavs(&ob));
    for n in &names {
        assert_eq!(
            sha256(&oa.join(n)),
            sha256(&ob.join(n)),
            "{n}: FLAC and WAV differ"
        );
    }
    assert_eq!(
        std::fs::read(oa.join("SHA256SUMS")).unwrap(),
        std::fs::read(ob.join("SHA256SUMS")).unwrap()
    );
    // and the audio is really there: the printmaster's FX is the stem (pcm24 in, pcm24 out)
    let (_, pm) = read(&oa.join("Flac_R1_PM_5.1.wav"));
    let (_, st) = read(&a.join("stems/fx.src"));
    let lsb = 1.0 / 8_388_608.0;
    for c in 0..6 {
        for t in 0..N {
            assert!((pm[c][t] - st[c][t]).abs() <= 2.0 * lsb, "{c}/{t}");
        }
    }
}

#[test]
fn pcm16_pcm24_and_float64_stems_keep_their_values() {
    let dir = tmpdir("depths");
    std::fs::create_dir_all(dir.join("stems")).unwrap();
    // 16- and 24-bit by hound (independent writer), whole LSB steps so the values are exact.
    let x = noise64(5, 2, N, 0.9);
    for (bits, name) in [(16u16, "p16"), (24, "p24")] {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: SR,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let scale = f64::from(1u32 << (bits - 1));
        let mut w = hound::WavWriter::create(dir.join(format!("stems/{name}.wav")), spec).unwrap();
        for i in 0..N {
            for c in &x {
                w.write_sample((c[i] * scale).round() as i32).unwrap();
            }
        }
        w.finalize().unwrap();
    }
    // 64-bit float by hand (hound does not write it); values that f32 cannot hold exactly.
    let x64: Vec<Vec<f64>> = x
        .iter()
        .map(|c| c.iter().map(|v| v * (1.0 + 1e-9)).collect())
        .collect();
    write_wav(&dir.join("stems/f64.wav"), true, 64, None, &x64);
    for (name, bits) in [("p16", 16u32), ("p24", 24), ("f64", 0)] {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        let text = one_stem("Depth", "2.0", &format!("source = \"../stems/{name}.wav\""));
        let (out, _) = render(&d, &text);
        let (spec, pm) = read(&out.join("Depth_R1_PM_2.0.wav"));
        assert_eq!(spec.sample_format, hound::SampleFormat::Float);
        assert_eq!(pm[0].len(), N);
        for c in 0..2 {
            for t in 0..N {
                let want = if bits == 0 {
                    x64[c][t] as f32
                } else {
                    let s = f64::from(1u32 << (bits - 1));
                    ((x[c][t] * s).round() / s) as f32
                };
                assert_eq!(pm[c][t], want, "{name} channel {c} sample {t}");
            }
        }
    }
}

#[test]
fn multi_mono_stem_equals_the_interleaved_stem() {
    let dir = tmpdir("mmono");
    std::fs::create_dir_all(dir.join("stems")).unwrap();
    // WAV order L R C LFE Ls Rs
    let wav = noise64(9, 6, N, 0.3);
    write_wav(&dir.join("stems/fx.wav"), true, 32, Some(0x3F), &wav);
    // the same channels as mono files named in film order L C R Ls Rs LFE
    let film = ["L", "C", "R", "Ls", "Rs", "LFE"];
    let wav_index = [0usize, 2, 1, 4, 5, 3];
    for (name, &k) in film.iter().zip(&wav_index) {
        write_f32(
            &dir.join(format!("stems/fx.{name}.wav")),
            SR,
            &[wav[k].iter().map(|&v| v as f32).collect()],
        );
    }
    let sources: Vec<String> = film
        .iter()
        .map(|n| format!("\"../stems/fx.{n}.wav\""))
        .collect();
    let order: Vec<String> = film.iter().map(|n| format!("\"{n}\"")).collect();
    let a = dir.join("inter");
    let b = dir.join("multi");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let (oa, _) = render(&a, &one_stem("MM", "5.1", "source = \"../stems/fx.wav\""));
    let (ob, _) = render(
        &b,
        &one_stem(
            "MM",
            "5.1",
            &format!(
                "sources = [{}]\nchannel_order = [{}]",
                sources.join(", "),
                order.join(", ")
            ),
        ),
    );
    let pa = std::fs::read(oa.join("MM_R1_PM_5.1.wav")).unwrap();
    let pb = std::fs::read(ob.join("MM_R1_PM_5.1.wav")).unwrap();
    assert_eq!(
        chunk(&pa, b"data"),
        chunk(&pb, b"data"),
        "multi-mono differs"
    );
    // and it is the stem itself, channel for channel
    let (_, pm) = read(&ob.join("MM_R1_PM_5.1.wav"));
    for c in 0..6 {
        for t in 0..N {
            assert_eq!(pm[c][t], wav[c][t] as f32, "{c}/{t}");
        }
    }
}

#[test]
fn side_surround_mask_is_read_as_5_1() {
    let dir = tmpdir("mask60f");
    std::fs::create_dir_all(dir.join("stems")).unwrap();
    let x = noise64(11, 6, N, 0.3);
    write_wav(&dir.join("stems/back.wav"), true, 32, Some(0x3F), &x);
    write_wav(&dir.join("stems/side.wav"), true, 32, Some(0x60F), &x);
    let i = inspect(&dir.join("stems/side.wav"));
    assert_eq!(i["channel_mask"], 0x60F);
    assert_eq!(i["layout"], "5.1");
    // no `layout` key on the stem: the mask decides, and both files mean the same 5.1
    let stem = |f: &str| {
        session(
            "Mask",
            &format!(
                "[output]\nformat = \"float32\"\n\n[[stem]]\nid = \"s\"\nkind = \"effects\"\n\
                 source = \"../stems/{f}.wav\"\n\n[[deliverable]]\nkind = \"printmaster\"\n"
            ),
        )
    };
    let (a, b) = (dir.join("a"), dir.join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let (oa, va) = render(&a, &stem("back"));
    let (ob, vb) = render(&b, &stem("side"));
    assert_eq!(va["deliverables"][0]["layout"], "5.1");
    assert_eq!(vb["deliverables"][0]["layout"], "5.1");
    let pa = std::fs::read(oa.join("Mask_R1_PM_5.1.wav")).unwrap();
    let pb = std::fs::read(ob.join("Mask_R1_PM_5.1.wav")).unwrap();
    assert_eq!(chunk(&pa, b"data"), chunk(&pb, b"data"));
    let (_, pm) = read(&ob.join("Mask_R1_PM_5.1.wav"));
    assert_eq!(
        pm[4][1234], x[4][1234] as f32,
        "Ls is the side-left channel"
    );
}

// ------------------------------------------------------------------- 4. 7.1

#[test]
fn seven_one_printmaster_and_its_5_1_fold_down() {
    let dir = tmpdir("71");
    std::fs::create_dir_all(dir.join("stems")).unwrap();
    // WAV order L R C LFE Lrs Rrs Lss Rss (mask 0x63F)
    let x = noise64(13, 8, N, 0.2);
    write_wav(&dir.join("stems/fx.wav"), true, 32, Some(0x63F), &x);
    let text = session(
        "Wide",
        "[output]\nformat = \"float32\"\n\n[[stem]]\nid = \"fx\"\nkind = \"effects\"\n\
         source = \"stems/fx.wav\"\n\n[[deliverable]]\nkind = \"printmaster\"\n\n\
         [[deliverable]]\nkind = \"printmaster\"\nlayout = \"5.1\"\n",
    );
    let (out, v) = render(&dir, &text);
    assert_eq!(v["deliverables"][0]["layout"], "7.1");
    let p71 = out.join("Wide_R1_PM_7.1.wav");
    let b = std::fs::read(&p71).unwrap();
    let fmt = chunk(&b, b"fmt ");
    assert_eq!(
        u16::from_le_bytes([fmt[0], fmt[1]]),
        0xFFFE,
        "WAVE_FORMAT_EXTENSIBLE"
    );
    assert_eq!(u16::from_le_bytes([fmt[2], fmt[3]]), 8);
    assert_eq!(u32::from_le_bytes(fmt[20..24].try_into().unwrap()), 0x63F);
    assert_eq!(&fmt[24..26], &[3, 0], "float subformat");
    let (_, pm71) = read(&p71);
    let (_, pm51) = read(&out.join("Wide_R1_PM_5.1.wav"));
    let (pm71, pm51) = (f64s(&pm71), f64s(&pm51));
    assert_eq!((pm71.len(), pm51.len()), (8, 6));
    for t in 0..N {
        for c in 0..8 {
            assert_eq!(
                pm71[c][t],
                f64::from(x[c][t] as f32),
                "7.1 is the stem: {c}/{t}"
            );
        }
        // 7.1 -> 5.1: L R C LFE kept, side and rear pairs at -3 dB each into Ls/Rs
        let want51 = [
            pm71[0][t],
            pm71[1][t],
            pm71[2][t],
            pm71[3][t],
            K * (pm71[4][t] + pm71[6][t]),
            K * (pm71[5][t] + pm71[7][t]),
        ];
        for c in 0..6 {
            assert!(
                (pm51[c][t] - want51[c]).abs() < 1e-6,
                "5.1 fold-down {c}/{t}"
            );
        }
    }
}

// -------------------------------------------------------------- 5. manifest

#[test]
fn manifest_and_qc_report_list_every_deliverable() {
    let dir = tmpdir("manifest");
    small_reel(&dir);
    let text = session(
        "Sums",
        &format!(
            "{SMALL_STEMS}\n[[deliverable]]\nkind = \"printmaster\"\nmulti_mono = true\n\n\
             [[deliverable]]\nkind = \"loro\"\n\n[[deliverable]]\nkind = \"me\"\n"
        ),
    );
    let (out, v) = render(&dir, &text);
    let mut listed: Vec<(String, String)> = std::fs::read_to_string(out.join("SHA256SUMS"))
        .unwrap()
        .lines()
        .map(|l| {
            let (h, n) = l.split_once("  ").expect("`hash  name` lines");
            (n.to_string(), h.to_string())
        })
        .collect();
    listed.sort();
    // every deliverable file, and nothing else: 6 mono PM files, Lo/Ro, M&E
    let names = wavs(&out);
    assert_eq!(names.len(), 8, "{names:?}");
    assert_eq!(
        listed.iter().map(|l| l.0.clone()).collect::<Vec<_>>(),
        names
    );
    for (n, h) in &listed {
        assert_eq!(h, &sha256(&out.join(n)), "{n}");
    }
    // the render summary's hashes
    let mut summary: Vec<(String, String)> = v["deliverables"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["files"].as_array().unwrap().clone())
        .map(|f| {
            let p = PathBuf::from(f["path"].as_str().unwrap());
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                f["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    summary.sort();
    assert_eq!(summary, listed);
    // the QC report lists the same files with the same hashes and sizes
    let qc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("qc/report.json")).unwrap())
            .unwrap();
    let mut in_qc: Vec<(String, String)> = Vec::new();
    for m in qc["manifest"].as_array().unwrap() {
        let p = PathBuf::from(m["path"].as_str().unwrap());
        let n = p.file_name().unwrap().to_string_lossy().into_owned();
        if n.ends_with(".wav") {
            let len = std::fs::metadata(out.join(&n)).unwrap().len();
            assert_eq!(m["bytes"], len, "{n}");
            in_qc.push((n, m["sha256"].as_str().unwrap().to_string()));
        }
    }
    in_qc.sort();
    assert_eq!(in_qc, listed);
    if have("sha256sum", "--version") {
        let o = Command::new("sha256sum")
            .args(["-c", "--strict", "SHA256SUMS"])
            .current_dir(&out)
            .output()
            .unwrap();
        let s = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{s}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(s.matches(": OK").count(), 8, "{s}");
        // and it notices a changed file
        let p = out.join(&listed[0].0);
        let mut b = std::fs::read(&p).unwrap();
        let last = b.len() - 1;
        b[last] ^= 1;
        std::fs::write(&p, b).unwrap();
        let o = Command::new("sha256sum")
            .args(["-c", "SHA256SUMS"])
            .current_dir(&out)
            .output()
            .unwrap();
        assert!(!o.status.success(), "sha256sum -c missed a changed file");
    }
}

#[test]
fn rf64_and_bw64_deliverables_read_back_as_stems() {
    let dir = tmpdir("rf64-in");
    std::fs::create_dir_all(dir.join("stems")).unwrap();
    let x = noise64(17, 6, N, 0.3);
    write_wav(&dir.join("stems/fx.wav"), true, 32, Some(0x3F), &x);
    // pass 1: the stem through a float32 render into RF64 and BW64 printmasters
    let mut prints = Vec::new();
    for (name, extra) in [("rf", ""), ("bw", "bw64 = true\n")] {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        let (out, _) = render(
            &d,
            &one_stem("Pass1", "5.1", "source = \"../stems/fx.wav\"\n").replace(
                "[output]\n",
                &format!("[output]\nrf64_threshold = 1000\n{extra}"),
            ),
        );
        let p = out.join("Pass1_R1_PM_5.1.wav");
        assert_eq!(
            &std::fs::read(&p).unwrap()[0..4],
            if name == "rf" { b"RF64" } else { b"BW64" }
        );
        prints.push(p);
    }
    // pass 2: each 64-bit-size file as a stem (no `start`: its bext TimeReference,
    // 01:00:00:00, is the reel's start)
    for p in &prints {
        let d = p.parent().unwrap().join("again");
        std::fs::create_dir_all(&d).unwrap();
        let (out, _) = render(
            &d,
            &one_stem(
                "Pass2",
                "5.1",
                &format!("source = {:?}", p.to_str().unwrap()),
            ),
        );
        let (_, pm) = read(&out.join("Pass2_R1_PM_5.1.wav"));
        for c in 0..6 {
            for t in 0..N {
                assert_eq!(pm[c][t], x[c][t] as f32, "{}: {c}/{t}", p.display());
            }
        }
    }
}

// ------------------------------------------------------------------ 6. iXML

/// The text of child `name` of an element (empty when absent).
fn xml_text(n: roxmltree::Node<'_, '_>, name: &str) -> String {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
        .and_then(|c| c.text())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn ixml_names_every_track_and_round_trips_through_inspect() {
    let dir = tmpdir("ixml");
    std::fs::create_dir_all(dir.join("stems")).unwrap();
    write_wav(
        &dir.join("stems/fx.wav"),
        true,
        32,
        Some(0x63F),
        &noise64(31, 8, N, 0.2),
    );
    let title = "Tom & Jerry's <\"Big\"> Day";
    // TOML escapes the quotes; scene and take belong to [reel].
    let text = session(
        "Tom & Jerry's <\\\"Big\\\"> Day",
        "scene = \"12A\"\ntake = \"3\"\n\n[output]\nrf64_threshold = 1000\n\n\
         [[stem]]\nid = \"fx\"\nkind = \"effects\"\nsource = \"stems/fx.wav\"\n\n\
         [[deliverable]]\nkind = \"printmaster\"\n\n\
         [[deliverable]]\nkind = \"printmaster\"\nlayout = \"5.1\"\n\n\
         [[deliverable]]\nkind = \"printmaster\"\nlayout = \"5.1\"\nmulti_mono = true\nname = \"mm\"\n",
    );
    let (out, v) = render(&dir, &text);
    let l71 = ["L", "R", "C", "LFE", "Lrs", "Rrs", "Lss", "Rss"];
    let l51 = ["L", "R", "C", "LFE", "Ls", "Rs"];
    let mut seen = 0;
    for d in v["deliverables"].as_array().unwrap() {
        let files = d["files"].as_array().unwrap();
        let labels: Vec<&str> = if d["layout"] == "7.1" {
            &l71[..]
        } else {
            &l51[..]
        }
        .to_vec();
        for (k, f) in files.iter().enumerate() {
            let path = PathBuf::from(f["path"].as_str().unwrap());
            let name = path.display().to_string();
            let b = std::fs::read(&path).unwrap();
            // RF64 with ds64 first; iXML after bext and before data.
            assert_eq!(&b[0..4], b"RF64", "{name}");
            let ids: Vec<[u8; 4]> = chunks(&b).iter().map(|c| c.0).collect();
            let at = |id: &[u8; 4]| ids.iter().position(|x| x == id).unwrap();
            assert_eq!(at(b"ds64"), 0, "{name}");
            assert!(
                at(b"bext") < at(b"iXML") && at(b"iXML") < at(b"data"),
                "{name}: {ids:?}"
            );
            let body = chunk(&b, b"iXML");
            assert_eq!(body.len() % 2, 0, "{name}: chunk word-aligned");
            let xml = std::str::from_utf8(body).unwrap();
            assert!(
                xml.contains(
                    "<PROJECT>Tom &amp; Jerry&apos;s &lt;&quot;Big&quot;&gt; Day</PROJECT>"
                ),
                "{name}: {xml}"
            );
            // An independent parser accepts it and reads the title back unescaped.
            let doc = roxmltree::Document::parse(xml.trim_end()).expect("well-formed iXML");
            let root = doc.root_element();
            assert_eq!(root.tag_name().name(), "BWFXML");
            assert_eq!(xml_text(root, "PROJECT"), title);
            assert_eq!(xml_text(root, "SCENE"), "12A");
            assert_eq!(xml_text(root, "TAKE"), "3");
            assert_eq!(xml_text(root, "TAPE"), "1");
            let speed = root.children().find(|c| c.has_tag_name("SPEED")).unwrap();
            assert_eq!(xml_text(speed, "TIMECODE_RATE"), "24/1");
            assert_eq!(xml_text(speed, "TIMECODE_FLAG"), "NDF");
            assert_eq!(xml_text(speed, "FILE_SAMPLE_RATE"), "48000");
            assert_eq!(xml_text(speed, "AUDIO_BIT_DEPTH"), "24");
            // The timestamp is the bext TimeReference (01:00:00:00 at 48 kHz).
            let bext = chunk(&b, b"bext");
            let tr = u64::from_le_bytes(bext[338..346].try_into().unwrap());
            assert_eq!(tr, ONE_HOUR);
            assert_eq!(
                xml_text(speed, "TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO"),
                tr.to_string()
            );
            assert_eq!(xml_text(speed, "TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI"), "0");
            let list = root
                .children()
                .find(|c| c.has_tag_name("TRACK_LIST"))
                .unwrap();
            let tracks: Vec<(String, String, String)> = list
                .children()
                .filter(|c| c.has_tag_name("TRACK"))
                .map(|t| {
                    (
                        xml_text(t, "CHANNEL_INDEX"),
                        xml_text(t, "INTERLEAVE_INDEX"),
                        xml_text(t, "NAME"),
                    )
                })
                .collect();
            let want: Vec<(String, String, String)> = if files.len() > 1 {
                // multi-mono: one track, its place in the set, interleave 1
                vec![((k + 1).to_string(), "1".into(), labels[k].to_string())]
            } else {
                labels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| ((i + 1).to_string(), (i + 1).to_string(), l.to_string()))
                    .collect()
            };
            assert_eq!(tracks, want, "{name}");
            assert_eq!(xml_text(list, "TRACK_COUNT"), want.len().to_string());
            // inspect reads it back
            let i = inspect(&path);
            let x = &i["ixml"];
            assert_eq!(x["project"], title, "{name}");
            assert_eq!(x["scene"], "12A");
            assert_eq!(x["tape"], "1");
            assert_eq!(x["speed"]["timestamp_samples_since_midnight"], ONE_HOUR);
            assert_eq!(x["bext"]["time_reference"], ONE_HOUR);
            assert_eq!(x["bext"]["originator"], "dubstage");
            let names: Vec<&str> = x["tracks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap())
                .collect();
            assert_eq!(names, want.iter().map(|t| t.2.as_str()).collect::<Vec<_>>());
            assert!(x.get("problem").is_none(), "{x}");
            seen += 1;
        }
    }
    assert_eq!(seen, 1 + 1 + 6);
    // The text form names the tracks and checks the timestamp against bext.
    assert_eq!(v["deliverables"][0]["layout"], "7.1");
    let pm = PathBuf::from(v["deliverables"][0]["files"][0]["path"].as_str().unwrap());
    let t = ok(&["inspect", pm.to_str().unwrap()]);
    assert!(t.contains("project \"Tom & Jerry's <\"Big\"> Day\""), "{t}");
    assert!(
        t.contains("tracks 1:L 2:R 3:C 4:LFE 5:Lrs 6:Rrs 7:Lss 8:Rss"),
        "{t}"
    );
    assert!(
        t.contains("timestamp 172800000 samples = 01:00:00:00"),
        "{t}"
    );
    assert!(!t.contains("differs"), "{t}");
    // ffprobe and sox still read the RF64 files with the chunk in place.
    assert!(pm.starts_with(&out));
    if have("ffprobe", "-version") {
        let o = run(Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", "stream=channels,duration"])
            .args(["-of", "json"])
            .arg(&pm));
        let j: Value = serde_json::from_str(&o).unwrap();
        assert_eq!(j["streams"][0]["channels"], 8, "{o}");
        let dur: f64 = j["streams"][0]["duration"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((dur - 2.0).abs() < 1e-6, "{o}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
