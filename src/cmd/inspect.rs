//! `dubstage inspect FILE...`.

use dubstage_core::io::plausible::{header_problems, is_time_of_day};
use dubstage_core::io::{AudioReader, SampleFormat};
use dubstage_core::layout::identify;
use dubstage_core::text::printable;
use dubstage_core::timecode::{FrameRate, Timecode};
use dubstage_core::{Error, Layout, Result};
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Audio files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Frame rate for timecodes (default: the file's own timecode rate, from iXML
    /// TIMECODE_RATE/TIMECODE_FLAG or the bext sSPEED= note; 24 when it says none).
    #[arg(long)]
    pub fps: Option<String>,
    /// One JSON array instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &Args) -> Result<()> {
    let forced: Option<FrameRate> = a
        .fps
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(Error::Invalid)?;
    let mut out = Vec::new();
    let mut failed = 0;
    for f in &a.files {
        match AudioReader::open(f) {
            Ok(r) => {
                let i = r.info();
                let own = dubstage_core::io::recorder::timecode_rate(i);
                let (rate, rate_from) = match (forced, own) {
                    (Some(f), _) => (f, "--fps"),
                    (None, Some(o)) => (o, "file"),
                    (None, None) => (FrameRate::Fps24, "assumed"),
                };
                let track_names: Vec<String> = i
                    .ixml
                    .as_ref()
                    .map(|x| x.tracks.iter().map(|t| t.name.clone()).collect())
                    .unwrap_or_default();
                let ident = identify(i.channels as usize, i.channel_mask, &track_names);
                let layout: Option<Layout> = ident.as_ref().ok().map(|id| id.layout);
                let fmt = match i.format {
                    SampleFormat::Int(b) => format!("{b}-bit PCM"),
                    SampleFormat::Float(b) => format!("{b}-bit float"),
                };
                let dur = i.frames as f64 / i.sample_rate as f64;
                let len_tc = Timecode::from_frames(
                    rate.samples_to_frames(i.frames as i64, i.sample_rate),
                    rate,
                );
                let problems = header_problems(i, rate);
                let start_tc = i.bext.as_ref().map(|b| {
                    if is_time_of_day(b.time_reference, i.sample_rate, rate) {
                        Timecode::from_samples(b.time_reference as i64, rate, i.sample_rate)
                            .to_string()
                    } else {
                        "(not a time of day)".to_string()
                    }
                });
                if a.json {
                    out.push(json!({
                        "file": f,
                        "container": format!("{:?}", i.container),
                        "format": fmt,
                        "channels": i.channels,
                        "channel_mask": i.channel_mask,
                        "layout": layout.map(|l| l.name()),
                        "layout_description": layout.map(|l| l.description()),
                        "channel_labels": layout.map(|l| l.channels().iter().map(|c| c.label()).collect::<Vec<_>>()),
                        "layout_note": ident.as_ref().ok().and_then(|id| id.note.clone()),
                        "layout_problem": ident.as_ref().err().map(|p| p.to_string()),
                        "sample_rate": i.sample_rate,
                        "frames": i.frames,
                        "duration_s": dur,
                        "length_timecode": len_tc.to_string(),
                        "bext": i.bext,
                        "ixml": i.ixml,
                        "start_timecode": start_tc,
                        "problems": problems,
                        "timecode_rate": rate.name(),
                        "timecode_rate_from": rate_from,
                    }));
                } else {
                    println!("{}", f.display());
                    println!("  container    {:?}, {fmt}", i.container);
                    println!(
                        "  channels     {}{}{}",
                        i.channels,
                        layout
                            .map(|l| format!(" ({})", l.name()))
                            .unwrap_or_default(),
                        i.channel_mask
                            .map(|m| format!(", mask 0x{m:X}"))
                            .unwrap_or_default()
                    );
                    match &ident {
                        Ok(id) => {
                            println!(
                                "  layout       {}: {}",
                                id.layout.description(),
                                id.layout.labels()
                            );
                            if let Some(n) = &id.note {
                                println!("               {n}");
                            }
                        }
                        Err(p) => println!("  layout       unknown: {p}"),
                    }
                    println!("  sample rate  {} Hz", i.sample_rate);
                    println!(
                        "  length       {} samples, {dur:.3} s, {len_tc} at {rate}",
                        i.frames
                    );
                    if let Some(b) = &i.bext {
                        println!(
                            "  bext         time reference {} samples = {} at {rate}{}",
                            b.time_reference,
                            start_tc.clone().unwrap_or_default(),
                            match rate_from {
                                "file" => " (the file's own rate)",
                                "assumed" => " (assumed: the file gives no rate; see --fps)",
                                _ => "",
                            }
                        );
                        if !b.description.is_empty() {
                            println!(
                                "               description \"{}\"",
                                printable(&b.description)
                            );
                        }
                        if !b.originator.is_empty() {
                            println!("               originator \"{}\"", printable(&b.originator));
                        }
                    }
                    if let Some(x) = &i.ixml {
                        print_ixml(x, i, rate);
                    }
                    for p in &problems {
                        println!("  IMPLAUSIBLE  {p}");
                    }
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {}", printable(&e.to_string()));
            }
        }
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("serializable")
        );
        super::json_printed();
    }
    if failed > 0 {
        return Err(Error::Invalid(format!(
            "{failed} of {} file(s) could not be read",
            a.files.len()
        )));
    }
    Ok(())
}

/// The text form of an iXML chunk.
fn print_ixml(x: &dubstage_core::io::IXml, i: &dubstage_core::io::WavInfo, rate: FrameRate) {
    if let Some(p) = &x.problem {
        println!("  iXML         unreadable: {}", printable(p));
        return;
    }
    let mut head = vec![format!("project \"{}\"", printable(&x.project))];
    for (k, v) in [("scene", &x.scene), ("take", &x.take), ("tape", &x.tape)] {
        if !v.is_empty() {
            head.push(format!("{k} \"{}\"", printable(v)));
        }
    }
    println!("  iXML         {}", head.join(", "));
    if !x.note.is_empty() {
        println!("               note \"{}\"", printable(&x.note));
    }
    if let Some(s) = &x.speed {
        let mut line = format!(
            "speed {} {}",
            printable(&s.timecode_rate),
            printable(&s.timecode_flag)
        );
        if let Some(t) = s.timestamp_samples_since_midnight {
            let sr = s.timestamp_sample_rate.unwrap_or(i.sample_rate);
            if is_time_of_day(t, sr, rate) {
                line.push_str(&format!(
                    ", timestamp {t} samples = {} at {rate}",
                    Timecode::from_samples(t as i64, rate, sr)
                ));
            } else {
                line.push_str(&format!(
                    ", timestamp {t} samples at {sr} Hz (not a time of day)"
                ));
            }
            if let Some(b) = &i.bext {
                if b.time_reference != t || sr != i.sample_rate {
                    line.push_str(&format!(
                        " (differs from the bext TimeReference {})",
                        b.time_reference
                    ));
                }
            }
        }
        println!("               {line}");
    }
    if !x.tracks.is_empty() {
        let t: Vec<String> = x
            .tracks
            .iter()
            .map(|t| format!("{}:{}", t.interleave_index, printable(&t.name)))
            .collect();
        println!("               tracks {}", t.join(" "));
    }
}
