//! Output folders that never destroy a user's files: the checks `preview
//! --out` and `demo --out` make before writing, the temporary sibling a
//! preview package is written into and swapped in from, and the checks on a
//! picture proxy before it is copied into a package.

use dubstage_core::session::Plan;
use dubstage_core::stem::chain::InsertSpec;
use dubstage_core::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Does `dir` hold a dubstage preview package (its `manifest.json` says so)?
pub fn is_preview_package(dir: &Path) -> bool {
    let Ok(text) = read_prefix(&dir.join("manifest.json"), 1 << 20) else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("format")?.as_str().map(str::to_string))
        .is_some_and(|f| f.starts_with("dubstage-preview/"))
}

/// The first line a demo session starts with (`dubstage_core::demo`).
const DEMO_MARK: &str = "# dubstage demo session";

/// Does `dir` hold a demo reel (`session.toml` written by `dubstage demo`)?
pub fn is_demo_folder(dir: &Path) -> bool {
    read_prefix(&dir.join("session.toml"), 256).is_ok_and(|t| t.starts_with(DEMO_MARK))
}

fn read_prefix(path: &Path, max: u64) -> std::io::Result<String> {
    let mut s = String::new();
    std::fs::File::open(path)?
        .take(max)
        .read_to_string(&mut s)?;
    Ok(s)
}

/// `Some(true)` when `dir` exists and holds anything, `Some(false)` when it is
/// an empty folder, `None` when it does not exist. A path that exists but is
/// not a folder (or is a symbolic link) is an error.
fn non_empty(dir: &Path, what: &str) -> Result<Option<bool>> {
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(dir, e)),
    };
    if meta.file_type().is_symlink() {
        return Err(Error::Invalid(format!(
            "{what} {}: a symbolic link; name the folder itself",
            dir.display()
        )));
    }
    if !meta.is_dir() {
        return Err(Error::Invalid(format!(
            "{what} {}: exists and is not a folder",
            dir.display()
        )));
    }
    let mut it = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    Ok(Some(it.next().is_some()))
}

/// Every file a session reads: the session itself, the stems' sources, the
/// impulse responses its inserts name, the spotting list and the video proxy.
pub fn session_inputs(plan: &Plan) -> Vec<PathBuf> {
    let mut v = vec![plan.session_path.clone()];
    for s in &plan.stems {
        v.extend(s.paths.iter().cloned());
    }
    let irs = |specs: &[InsertSpec], v: &mut Vec<PathBuf>| {
        for spec in specs {
            match spec {
                InsertSpec::Convolve { ir, .. }
                | InsertSpec::Futz { ir: Some(ir), .. }
                | InsertSpec::Denoise {
                    room_tone: Some(ir),
                    ..
                } => v.push(plan.base_dir.join(ir)),
                _ => {}
            }
        }
    };
    for s in &plan.stems {
        irs(&s.inserts, &mut v);
    }
    for r in &plan.returns {
        irs(&r.inserts, &mut v);
    }
    v.extend(plan.spotting.iter().cloned());
    v.extend(plan.video.iter().map(|(p, _)| p.clone()));
    v
}

/// An absolute form of `p` without touching the file system beyond
/// canonicalizing what exists (the longest existing ancestor).
fn absolute(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut head = abs.clone();
    let mut tail = Vec::new();
    while !head.exists() {
        match (head.file_name(), head.parent()) {
            (Some(n), Some(parent)) => {
                tail.push(n.to_os_string());
                head = parent.to_path_buf();
            }
            _ => return abs,
        }
    }
    let mut out = head.canonicalize().unwrap_or(head);
    out.extend(tail.iter().rev());
    out
}

/// Checks that a preview package may be written at `dir`: a missing or empty
/// folder, or an earlier dubstage preview package (replaced whole), and never
/// a folder that holds (at any depth) one of `inputs`.
pub fn check_preview_out(dir: &Path, inputs: &[PathBuf]) -> Result<()> {
    let state = non_empty(dir, "--out")?;
    let abs = absolute(dir);
    for i in inputs {
        let a = absolute(i);
        if a.starts_with(&abs) {
            return Err(Error::Invalid(format!(
                "--out {}: holds {}, which the session reads; a preview package replaces its folder, so give it a folder of its own",
                dir.display(),
                i.display()
            )));
        }
    }
    if state == Some(true) && !is_preview_package(dir) {
        return Err(Error::Invalid(format!(
            "--out {}: the folder is not empty and is not a dubstage preview package (no manifest.json of format dubstage-preview); nothing was written. Name a new or empty folder, or an earlier package",
            dir.display()
        )));
    }
    Ok(())
}

/// Checks that the demo may be written at `dir`: a missing or empty folder,
/// an earlier demo folder, or anything with `force`.
pub fn check_demo_out(dir: &Path, force: bool) -> Result<()> {
    if force {
        return Ok(());
    }
    if non_empty(dir, "--out")? == Some(true) && !is_demo_folder(dir) {
        return Err(Error::Invalid(format!(
            "--out {}: the folder is not empty and is not a dubstage demo folder (its session.toml would be overwritten, and stems/ and print/ written into it); nothing was written. Name a new or empty folder, or add --force",
            dir.display()
        )));
    }
    Ok(())
}

/// Writes a folder through `build` into a fresh temporary sibling of `dir`,
/// then swaps it in: an earlier folder at `dir` is moved aside, the new one
/// renamed into place, and the old one removed. When `build` fails, the
/// temporary folder is removed and `dir` is untouched. The caller checks
/// first that replacing `dir` is allowed ([`check_preview_out`]).
pub fn write_swapped<T>(dir: &Path, build: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let dir = &absolute(dir);
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Invalid(format!("--out {}: not a folder name", dir.display())))?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let tag = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let tmp = parent.join(format!(".{name}.dubstage-new-{tag}"));
    std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let out = match build(&tmp) {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let old = parent.join(format!(".{name}.dubstage-old-{tag}"));
    let had_old = dir.exists();
    if had_old && let Err(e) = std::fs::rename(dir, &old) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(Error::io(dir, e));
    }
    if let Err(e) = std::fs::rename(&tmp, dir) {
        if had_old {
            let _ = std::fs::rename(&old, dir);
        }
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(Error::io(dir, e));
    }
    if had_old {
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    Ok(out)
}

/// The kind of a picture proxy, from its first bytes: ISO base media (MP4,
/// `ftyp` box first, ISO/IEC 14496-12 §4.3), QuickTime (`ftyp`, or a classic
/// `moov`/`mdat`/`wide`/`free`/`skip` atom first) or WebM (an EBML header,
/// RFC 8794, whose DocType is `webm`). Returns the file extension to use.
pub fn video_kind(head: &[u8]) -> Option<&'static str> {
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return Some(if &head[8..12] == b"qt  " {
            "mov"
        } else {
            "mp4"
        });
    }
    if head.len() >= 8 && matches!(&head[4..8], b"moov" | b"mdat" | b"wide" | b"free" | b"skip") {
        return Some("mov");
    }
    if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        // DocType element (0x4282) holding "webm", within the EBML header.
        let h = &head[..head.len().min(64)];
        if h.windows(7)
            .any(|w| w == [0x42, 0x82, 0x84, b'w', b'e', b'b', b'm'])
        {
            return Some("webm");
        }
    }
    None
}

/// Checks a picture proxy before it is copied into a package: a regular
/// file whose first bytes say MP4, MOV or WebM. `what` names where it came
/// from in errors. Returns the extension for its kind.
pub fn check_video(path: &Path, what: &str) -> Result<&'static str> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::Invalid(format!("{what} {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(Error::Invalid(format!(
            "{what} {}: not a file",
            path.display()
        )));
    }
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(64).read_to_end(&mut head))
        .map_err(|e| Error::io(path, e))?;
    video_kind(&head).ok_or_else(|| {
        Error::Invalid(format!(
            "{what} {}: not an MP4, MOV or WebM video (by its first bytes); only a picture proxy is copied into a preview package",
            path.display()
        ))
    })
}

/// Checks that a session's `video` resolves inside the session's folder
/// (symbolic links followed): a session from someone else must not be able to
/// copy any file of the reviewer's into a package.
pub fn check_session_video(plan: &Plan, video: &Path) -> Result<()> {
    let base = plan
        .base_dir
        .canonicalize()
        .map_err(|e| Error::io(&plan.base_dir, e))?;
    let real = video.canonicalize().map_err(|e| {
        Error::Invalid(format!(
            "{}: [reel] video {}: {e}",
            plan.session_path.display(),
            video.display()
        ))
    })?;
    if !real.starts_with(&base) {
        return Err(Error::Invalid(format!(
            "{}: [reel] video {} is outside the session's folder {}; a session may only name a proxy inside its own folder (pass another with --video)",
            plan.session_path.display(),
            video.display(),
            base.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_kinds_by_magic_bytes() {
        let mut mp4 = vec![0, 0, 0, 0x20];
        mp4.extend_from_slice(b"ftypisom\0\0\x02\0");
        assert_eq!(video_kind(&mp4), Some("mp4"));
        let mut mov = vec![0, 0, 0, 0x14];
        mov.extend_from_slice(b"ftypqt  \0\0\0\0");
        assert_eq!(video_kind(&mov), Some("mov"));
        let webm = [
            0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84, b'w', b'e',
            b'b', b'm',
        ];
        assert_eq!(video_kind(&webm), Some("webm"));
        let mkv = [
            0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x82, 0x88, b'm', b'a', b't', b'r', b'o', b's',
            b'k', b'a',
        ];
        assert_eq!(video_kind(&mkv), None);
        assert_eq!(video_kind(b"-----BEGIN OPENSSH PRIVATE KEY-----"), None);
        assert_eq!(video_kind(b"RIFF\0\0\0\0WAVEfmt "), None);
        assert_eq!(video_kind(b""), None);
    }
}
