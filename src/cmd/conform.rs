//! `dubstage conform LIST --media DIR... --fps RATE --out SESSION.toml`:
//! relinks a picture editor's list (CMX 3600 EDL or OpenTimelineIO) to the
//! recorder's files and writes a session of tracks of clips; `--dry-run`
//! prints the list as parsed.

use dubstage_core::conform::verify::{VerifyOptions, verify};
use dubstage_core::conform::{ConformOptions, conform_takes, scan};
use dubstage_core::editorial::{self, DryRun};
use dubstage_core::{Error, FrameRate, Result};
use std::path::PathBuf;

/// `dubstage conform` arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The list: a CMX 3600 EDL (.edl) or an OpenTimelineIO file (.otio).
    pub list: PathBuf,
    /// The list's frame rate (23.976, 24, 25, 29.97df, 29.97, 30, 50, 59.94, 59.94df).
    #[arg(long)]
    pub fps: String,
    /// Folders of recorder files (searched recursively; repeat for several).
    #[arg(long)]
    pub media: Vec<PathBuf>,
    /// The session file to write.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seconds of source kept either side of each clip (not heard).
    #[arg(long, default_value_t = 8.0)]
    pub handles: f64,
    /// Take channels by recorder track name (case-insensitive), one track per name.
    #[arg(long, value_delimiter = ',')]
    pub channels: Vec<String>,
    /// Unmatched or ambiguous edits are an error (nothing is written).
    #[arg(long)]
    pub strict: bool,
    /// Also write the conformed timeline as OpenTimelineIO JSON.
    #[arg(long)]
    pub otio: Option<PathBuf>,
    /// Avid Log Exchange files (repeat for several): edits naming a camera
    /// clip or tape of a row go to its sound roll at its sound timecode.
    #[arg(long)]
    pub ale: Vec<PathBuf>,
    /// The picture editor's guide track (the cut's audio at reel position):
    /// each conformed clip's placement is checked against it (GCC-PHAT).
    #[arg(long)]
    pub guide: Option<PathBuf>,
    /// With --guide: slide clips found off by more than half a sample, and
    /// invert clips found inverted.
    #[arg(long)]
    pub fix_sync: bool,
    /// Print the list as parsed, without media.
    #[arg(long)]
    pub dry_run: bool,
    /// One JSON document on stdout (also on failure: {"error": ...}).
    #[arg(long)]
    pub json: bool,
}

/// Runs `dubstage conform`.
pub fn run(a: &Args) -> Result<()> {
    let r = conform(a);
    // Under --json, `main` prints a failure as a JSON object (with its kind and file).
    r
}

fn conform(a: &Args) -> Result<()> {
    let rate: FrameRate = a.fps.parse().map_err(Error::Invalid)?;
    let mut list = editorial::read_list(&a.list, rate)?;
    let ales = a
        .ale
        .iter()
        .map(|p| editorial::ale::read(p))
        .collect::<Result<Vec<_>>>()?;
    let (links, ale_warnings) = editorial::ale::apply(&mut list, &ales);
    if !a.dry_run {
        return conform_media(a, &list, &ales, (&links, &ale_warnings));
    }
    list.warnings.extend(ale_warnings);
    let d = list.dry_run();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&d).map_err(|e| Error::Invalid(e.to_string()))?
        );
    } else {
        print_text(&d, &a.list);
    }
    Ok(())
}

fn print_text(d: &DryRun, path: &std::path::Path) {
    println!(
        "{} ({:?}, '{}', {} fps): {} events",
        path.display(),
        d.format,
        d.title,
        d.frame_rate,
        d.events.len()
    );
    for e in &d.events {
        let tracks: Vec<String> = e.tracks.iter().map(|t| format!("A{t}")).collect();
        let trans = if e.transition_frames > 0 {
            format!("{} {:03}", e.transition, e.transition_frames)
        } else {
            e.transition.clone()
        };
        println!(
            "{:>4}  {:<16} {:<10} {:<8} {} {} {} {}{}{}{}",
            e.number,
            e.reel,
            if tracks.is_empty() {
                "-".to_string()
            } else {
                tracks.join(",")
            },
            trans,
            e.source_in,
            e.source_out,
            e.record_in,
            e.record_out,
            e.clip_name
                .as_deref()
                .map(|c| format!("  clip '{c}'"))
                .unwrap_or_default(),
            e.source_file
                .as_deref()
                .map(|c| format!("  file '{c}'"))
                .unwrap_or_default(),
            e.speed
                .map(|s| format!("  speed {s:.3}"))
                .unwrap_or_default(),
        );
    }
    for w in &d.warnings {
        println!("warning: {w}");
    }
}

fn write_atomic(path: &std::path::Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("conform-tmp");
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

fn check_handles(h: f64) -> Result<()> {
    if !h.is_finite() || h < 0.0 {
        return Err(Error::Invalid(format!("--handles {h}: give seconds >= 0")));
    }
    Ok(())
}

/// Channel names as given to `--channels` (trimmed, empty ones dropped).
fn channel_names(v: &[String]) -> Vec<String> {
    v.iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn conform_media(
    a: &Args,
    list: &editorial::EditList,
    ales: &[editorial::ale::Ale],
    (links, ale_warnings): (&[editorial::ale::AleLink], &[String]),
) -> Result<()> {
    let out = a.out.as_ref().ok_or_else(|| {
        Error::Invalid("give --out SESSION.toml (or --dry-run to print the list)".into())
    })?;
    if a.media.is_empty() {
        return Err(Error::Invalid(
            "give --media DIR (the recorder's files)".into(),
        ));
    }
    check_handles(a.handles)?;
    for p in [Some(out), a.otio.as_ref()].into_iter().flatten() {
        if p.canonicalize().ok() == a.list.canonicalize().ok() {
            return Err(Error::Invalid(format!(
                "{}: would overwrite the list",
                p.display()
            )));
        }
    }
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let opts = ConformOptions {
        media: a.media.clone(),
        handles_s: a.handles,
        channel_names: channel_names(&a.channels),
        session_dir: dir.clone(),
    };
    let (mut takes, scan_warnings) = scan(&opts.media, list.rate)?;
    for t in &mut takes {
        if let Some(names) = t
            .roll
            .as_deref()
            .and_then(|r| editorial::ale::track_names(ales, r))
        {
            t.name_channels(names);
        }
    }
    let mut c = conform_takes(list, &opts, &takes, scan_warnings, None)?;
    c.warnings.extend(ale_warnings.iter().cloned());
    if a.strict && c.unmatched + c.ambiguous > 0 {
        if !a.json {
            eprint!("{}", c.report_text());
        }
        return Err(Error::Invalid(format!(
            "{}: {} unmatched and {} ambiguous edit(s) under --strict; nothing written",
            a.list.display(),
            c.unmatched,
            c.ambiguous
        )));
    }
    let check = match &a.guide {
        Some(g) => Some(verify(
            &mut c,
            g,
            &VerifyOptions {
                fix: a.fix_sync,
                ..VerifyOptions::default()
            },
        )?),
        None if a.fix_sync => {
            return Err(Error::Invalid(
                "--fix-sync needs --guide GUIDE.wav (the cut's audio to sync to)".into(),
            ));
        }
        None => None,
    };
    let toml = c.session_toml(&dir)?;
    write_atomic(out, &toml)?;
    if let Some(o) = &a.otio {
        let text = serde_json::to_string_pretty(&c.to_otio())
            .map_err(|e| Error::Invalid(e.to_string()))?;
        write_atomic(o, &text)?;
    }
    if a.json {
        let mut v = serde_json::to_value(&c).map_err(|e| Error::Invalid(e.to_string()))?;
        if let Some(m) = v.as_object_mut() {
            m.remove("tracks");
            m.insert("session".into(), serde_json::json!(out));
            m.insert("otio".into(), serde_json::json!(a.otio));
            m.insert("ale".into(), serde_json::json!(links));
            if let Some(ch) = &check {
                m.insert("sync".into(), serde_json::json!(ch));
            }
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| Error::Invalid(e.to_string()))?
        );
    } else {
        print!("{}", c.report_text());
        if let Some(ch) = &check {
            print!("{}", ch.report_text());
        }
        println!("session written to {}", out.display());
    }
    Ok(())
}

/// `dubstage reconform` arguments.
#[derive(clap::Args, Debug)]
pub struct ReconformArgs {
    /// The list the session was conformed to.
    pub old: PathBuf,
    /// The new list (the changed cut).
    pub new: PathBuf,
    /// The session to follow the change.
    pub session: PathBuf,
    /// The lists' frame rate.
    #[arg(long)]
    pub fps: String,
    /// The new session (written beside SESSION; with NEW_SESSION.changes.edl and .changes.json).
    #[arg(long)]
    pub out: PathBuf,
    /// Folders of recorder files: new material is conformed from them, as
    /// `conform` does (repeat for several); without, it is left as a gap.
    #[arg(long)]
    pub media: Vec<PathBuf>,
    /// Seconds of source kept either side of each filled clip (not heard).
    #[arg(long, default_value_t = 8.0)]
    pub handles: f64,
    /// Take the filled channels by recorder track name, one track per name.
    #[arg(long, value_delimiter = ',')]
    pub channels: Vec<String>,
    /// Keep removed material on muted `trims_<track>` tracks at its old place.
    #[arg(long)]
    pub trims: bool,
    /// Print the change list as JSON (also on failure: {"error": ...}).
    #[arg(long)]
    pub json: bool,
}

/// Runs `dubstage reconform`.
pub fn run_reconform(a: &ReconformArgs) -> Result<()> {
    let r = reconform(a);
    // Under --json, `main` prints a failure as a JSON object (with its kind and file).
    r
}

fn reconform(a: &ReconformArgs) -> Result<()> {
    use dubstage_core::reconform;
    let rate: FrameRate = a.fps.parse().map_err(Error::Invalid)?;
    let old = editorial::read_list(&a.old, rate)?;
    let new = editorial::read_list(&a.new, rate)?;
    let session = dubstage_core::session::Session::load(&a.session)?;
    let dir = |p: &std::path::Path| {
        p.parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| d.canonicalize().unwrap_or_else(|_| d.to_path_buf()))
            .unwrap_or_else(|| PathBuf::from(".").canonicalize().unwrap_or_default())
    };
    if dir(&a.out) != dir(&a.session) {
        return Err(Error::Invalid(format!(
            "{}: write the new session beside {} (its paths are relative to that folder)",
            a.out.display(),
            a.session.display()
        )));
    }
    for input in [&a.session, &a.old, &a.new] {
        if a.out.canonicalize().ok() == input.canonicalize().ok() {
            return Err(Error::Invalid(format!(
                "{}: would overwrite an input",
                a.out.display()
            )));
        }
    }
    check_handles(a.handles)?;
    let changes = reconform::compare(&old, &new)?;
    let fill = if a.media.is_empty() {
        None
    } else {
        let opts = ConformOptions {
            media: a.media.clone(),
            handles_s: a.handles,
            channel_names: channel_names(&a.channels),
            session_dir: dir(&a.session),
        };
        Some(reconform::fill(
            &new,
            &changes,
            session.file.reel.sample_rate,
            &opts,
        )?)
    };
    let (text, mut warnings) = reconform::apply_with(
        &session,
        &changes,
        reconform::ApplyOptions {
            fill: fill.as_ref(),
            trims: a.trims,
        },
    )?;
    // the written session must load and resolve before anything is written
    dubstage_core::session::Session::parse(&a.out, &text)?.resolve()?;
    let edl_path = a.out.with_extension("changes.edl");
    let json_path = a.out.with_extension("changes.json");
    warnings.extend(changes.warnings.iter().cloned());
    if let Some(f) = &fill {
        warnings.extend(f.warnings.iter().cloned());
    }
    let doc = serde_json::json!({
        "session": a.out,
        "change_edl": edl_path,
        "frame_rate": changes.frame_rate,
        "moves": changes.moves,
        "inserted": changes.inserted,
        "removed": changes.removed,
        "filled": fill.as_ref().map(|f| &f.ranges),
        "trims": a.trims,
        "warnings": warnings,
    });
    let json = serde_json::to_string_pretty(&doc).map_err(|e| Error::Invalid(e.to_string()))?;
    write_atomic(&edl_path, &changes.to_edl(&old.title))?;
    write_atomic(&json_path, &json)?;
    write_atomic(&a.out, &text)?;
    if a.json {
        println!("{json}");
    } else {
        println!(
            "{} piece(s) moved, {} range(s) of new material, {} removed; session written to {}",
            changes.moves.len(),
            changes.inserted.len(),
            changes.removed.len(),
            a.out.display()
        );
        for r in fill.iter().flat_map(|f| &f.ranges) {
            println!(
                "new material {} - {}: {}",
                r.record_in, r.record_out, r.status
            );
            for e in &r.events {
                let what = match (&e.file, e.channel, e.offset) {
                    (Some(f), Some(c), Some(o)) => format!("{} ch {c} +{o}", f.display()),
                    _ => e.reason.clone().unwrap_or_else(|| e.candidates.join(", ")),
                };
                println!("  event {} {} {}: {what}", e.number, e.track, e.status);
            }
        }
        for w in &warnings {
            println!("warning: {w}");
        }
    }
    Ok(())
}
