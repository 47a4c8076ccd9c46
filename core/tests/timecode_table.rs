//! Timecode arithmetic at every rate against an independent table.
//!
//! The table (frames since midnight, and the first sample of that frame at
//! 48 kHz) was produced by OpenTimelineIO 0.18.1's `opentime.from_timecode`
//! (drop-frame at 29.97 and 59.94 when written with `;`), and the samples
//! as `frames * 48000 / fps` with Python's exact `Fraction`, rounded half
//! away from zero. Known facts it holds (SMPTE ST 12-1): one hour of
//! 29.97 DF is 107 892 frames, of 59.94 DF 215 784; 00:10:00;00 DF is frame
//! 17 982; at 23.976 a frame is 2002 samples at 48 kHz, so the Sound
//! Devices file of ../shared/real starting at 12:39:59:00 + 1 sample has
//! TimeReference 2 190 940 753.
//!
//! A second oracle walks the drop-frame labels one frame at a time (the
//! naive counter a timecode generator is) and checks every label of the
//! first two hours and a window around midnight.

use dubstage_core::{FrameRate, Timecode};

const TABLE: &[(&str, &str, i64, i64)] = &[
    ("23.976", "00:00:00:00", 0, 0),
    ("23.976", "00:00:59:23", 1439, 2880878),
    ("23.976", "00:01:00:04", 1444, 2890888),
    ("23.976", "00:09:59:23", 14399, 28826798),
    ("23.976", "00:10:00:00", 14400, 28828800),
    ("23.976", "01:00:00:00", 86400, 172972800),
    ("23.976", "10:00:00:00", 864000, 1729728000),
    ("23.976", "12:39:59:00", 1094376, 2190940752),
    ("23.976", "23:59:59:23", 2073599, 4151345198),
    ("24", "00:00:00:00", 0, 0),
    ("24", "00:00:59:23", 1439, 2878000),
    ("24", "00:01:00:04", 1444, 2888000),
    ("24", "00:09:59:23", 14399, 28798000),
    ("24", "00:10:00:00", 14400, 28800000),
    ("24", "01:00:00:00", 86400, 172800000),
    ("24", "10:00:00:00", 864000, 1728000000),
    ("24", "12:39:59:00", 1094376, 2188752000),
    ("24", "23:59:59:23", 2073599, 4147198000),
    ("25", "00:00:00:00", 0, 0),
    ("25", "00:00:59:23", 1498, 2876160),
    ("25", "00:01:00:04", 1504, 2887680),
    ("25", "00:09:59:23", 14998, 28796160),
    ("25", "00:10:00:00", 15000, 28800000),
    ("25", "01:00:00:00", 90000, 172800000),
    ("25", "10:00:00:00", 900000, 1728000000),
    ("25", "12:39:59:00", 1139975, 2188752000),
    ("25", "23:59:59:23", 2159998, 4147196160),
    ("29.97df", "00:00:00;00", 0, 0),
    ("29.97df", "00:00:59;23", 1793, 2871669),
    ("29.97df", "00:01:00;04", 1802, 2886083),
    ("29.97df", "00:09:59;23", 17975, 28788760),
    ("29.97df", "00:10:00;00", 17982, 28799971),
    ("29.97df", "01:00:00;00", 107892, 172799827),
    ("29.97df", "10:00:00;00", 1078920, 1727998272),
    ("29.97df", "12:39:59;00", 1366602, 2188749763),
    ("29.97df", "23:59:59;23", 2589401, 4147184642),
    ("29.97", "00:00:00:00", 0, 0),
    ("29.97", "00:00:59:23", 1793, 2871669),
    ("29.97", "00:01:00:04", 1804, 2889286),
    ("29.97", "00:09:59:23", 17993, 28817589),
    ("29.97", "00:10:00:00", 18000, 28828800),
    ("29.97", "01:00:00:00", 108000, 172972800),
    ("29.97", "10:00:00:00", 1080000, 1729728000),
    ("29.97", "12:39:59:00", 1367970, 2190940752),
    ("29.97", "23:59:59:23", 2591993, 4151335989),
    ("30", "00:00:00:00", 0, 0),
    ("30", "00:00:59:23", 1793, 2868800),
    ("30", "00:01:00:04", 1804, 2886400),
    ("30", "00:09:59:23", 17993, 28788800),
    ("30", "00:10:00:00", 18000, 28800000),
    ("30", "01:00:00:00", 108000, 172800000),
    ("30", "10:00:00:00", 1080000, 1728000000),
    ("30", "12:39:59:00", 1367970, 2188752000),
    ("30", "23:59:59:23", 2591993, 4147188800),
    ("50", "00:00:00:00", 0, 0),
    ("50", "00:00:59:23", 2973, 2854080),
    ("50", "00:01:00:04", 3004, 2883840),
    ("50", "00:09:59:23", 29973, 28774080),
    ("50", "00:10:00:00", 30000, 28800000),
    ("50", "01:00:00:00", 180000, 172800000),
    ("50", "10:00:00:00", 1800000, 1728000000),
    ("50", "12:39:59:00", 2279950, 2188752000),
    ("50", "23:59:59:23", 4319973, 4147174080),
    ("59.94", "00:00:00:00", 0, 0),
    ("59.94", "00:00:59:23", 3563, 2853250),
    ("59.94", "00:01:00:04", 3604, 2886083),
    ("59.94", "00:09:59:23", 35963, 28799170),
    ("59.94", "00:10:00:00", 36000, 28828800),
    ("59.94", "01:00:00:00", 216000, 172972800),
    ("59.94", "10:00:00:00", 2160000, 1729728000),
    ("59.94", "12:39:59:00", 2735940, 2190940752),
    ("59.94", "23:59:59:23", 5183963, 4151317570),
    ("59.94df", "00:00:00;00", 0, 0),
    ("59.94df", "00:00:59;23", 3563, 2853250),
    ("59.94df", "00:01:00;04", 3600, 2882880),
    ("59.94df", "00:09:59;23", 35927, 28770342),
    ("59.94df", "00:10:00;00", 35964, 28799971),
    ("59.94df", "01:00:00;00", 215784, 172799827),
    ("59.94df", "10:00:00;00", 2157840, 1727998272),
    ("59.94df", "12:39:59;00", 2733204, 2188749763),
    ("59.94df", "23:59:59;23", 5178779, 4147166223),
];

#[test]
fn every_rate_matches_the_independent_table() {
    for &(rate, text, frames, samples) in TABLE {
        let r: FrameRate = rate.parse().unwrap();
        let tc = Timecode::parse(text, r).unwrap_or_else(|e| panic!("{rate} {text}: {e}"));
        assert_eq!(tc.to_frames(), frames, "{rate} {text}: frames");
        assert_eq!(tc.to_samples(48_000), samples, "{rate} {text}: samples");
        assert_eq!(
            Timecode::from_frames(frames, r),
            tc,
            "{rate} {text}: from_frames"
        );
        assert_eq!(tc.to_string(), text, "{rate}: printed");
        assert_eq!(
            Timecode::from_samples(samples, r, 48_000),
            tc,
            "{rate} {text}: from_samples"
        );
    }
    assert_eq!(TABLE.len(), 81);
}

#[test]
fn the_sound_devices_take_starts_one_sample_after_12_39_59_00() {
    let r = FrameRate::Fps23_976;
    let tc = Timecode::from_samples(2_190_940_753, r, 48_000);
    assert_eq!(tc.to_string(), "12:39:59:00");
    assert_eq!(2_190_940_753 - tc.to_samples(48_000), 1);
}

/// The next label of a timecode generator: frames, seconds, minutes, hours,
/// skipping the dropped frame numbers at the start of each minute not
/// divisible by ten.
fn next_label(l: (u32, u32, u32, u32), nominal: u32, dropped: u32) -> (u32, u32, u32, u32) {
    let (mut h, mut m, mut s, mut f) = l;
    f += 1;
    if f == nominal {
        f = 0;
        s += 1;
        if s == 60 {
            s = 0;
            m += 1;
            if m == 60 {
                m = 0;
                h = (h + 1) % 24;
            }
            if m % 10 != 0 {
                f = dropped;
            }
        }
    }
    (h, m, s, f)
}

#[test]
fn drop_frame_labels_match_a_naive_counter() {
    for (r, nominal, dropped) in [
        (FrameRate::Fps29_97Df, 30, 2),
        (FrameRate::Fps59_94Df, 60, 4),
        (FrameRate::Fps29_97Ndf, 30, 0),
        (FrameRate::Fps23_976, 24, 0),
        (FrameRate::Fps25, 25, 0),
    ] {
        let mut label = (0, 0, 0, 0);
        let per_day = Timecode::parse(
            if r.is_drop() {
                "23:59:59;00"
            } else {
                "23:59:59:00"
            },
            r,
        )
        .unwrap()
        .to_frames()
            + nominal as i64;
        let window = (0..nominal as i64 * 7200).chain(per_day - 5000..per_day + 5000);
        let mut at = 0i64;
        for f in window {
            while at < f {
                label = next_label(label, nominal, dropped);
                at += 1;
            }
            let tc = Timecode::from_frames(f, r);
            let f_mod = f.rem_euclid(per_day);
            assert_eq!(
                (tc.hours, tc.minutes, tc.seconds, tc.frames),
                label,
                "{r}: frame {f}"
            );
            assert_eq!(tc.to_frames(), f_mod, "{r}: frame {f}");
        }
    }
}
