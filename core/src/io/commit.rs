//! Delivering a set of files as one: staged temporaries, a commit that moves the
//! previous files aside and puts them back when anything fails, the output folder's
//! lock, and the sweep of temporaries that dead processes left behind.
//!
//! Every temporary name carries the id of the process that made it:
//! `.<name>.<pid>-<n>.partial` (a file being written or staged) and
//! `.<name>.<pid>-<n>.prev` (a previous file moved aside during a commit). A render
//! sweeps those of processes that no longer exist from its output folder before it
//! starts, so an interrupted or killed render (even `kill -9`) leaves nothing behind
//! for long, and a commit cut short puts the previous file back.

use crate::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The lock file a render keeps in its output folder while it runs (holds its PID).
pub const LOCK_NAME: &str = ".dubstage.lock";

/// Test-only fault injection: when this environment variable holds a number `n`, the
/// commit fails as if the rename of its `n + 1`-th file had failed (the tests use it to
/// check that the previous delivery survives a failed commit; never set it otherwise).
pub const FAIL_COMMIT_ENV: &str = "DUBSTAGE_TEST_FAIL_COMMIT";

/// This process's id (0 on wasm32, which has no processes).
pub fn pid() -> u32 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::process::id()
    }
    #[cfg(target_arch = "wasm32")]
    {
        0
    }
}

/// Whether process `pid` exists. Linux answers through `/proc`; where there is no
/// `/proc`, every process is taken to be alive (nothing is swept or taken over).
pub fn process_alive(pid: u32) -> bool {
    if pid == self::pid() {
        return true;
    }
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// A fresh temporary path beside `path` with this process's id in its name:
/// `.<name>.<pid>-<n>.<suffix>`.
pub fn temp_path(path: &Path, suffix: &str) -> PathBuf {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    path.with_file_name(format!(".{name}.{}-{n}.{suffix}", pid()))
}

/// The final name and the PID of a temporary made by [`temp_path`] (or the older
/// `.<name>.tmp` of a QC report, which has no PID: `None`).
fn parse_temp(name: &str) -> Option<(String, u32, &'static str)> {
    let rest = name.strip_prefix('.')?;
    let (rest, suffix) = if let Some(r) = rest.strip_suffix(".partial") {
        (r, "partial")
    } else {
        (rest.strip_suffix(".prev")?, "prev")
    };
    let (base, tag) = rest.rsplit_once('.')?;
    let (pid, n) = tag.split_once('-')?;
    if base.is_empty() || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((base.to_string(), pid.parse().ok()?, suffix))
}

/// Removes from `dir` (not its subfolders) the temporaries of dubstage processes that
/// no longer exist. A previous file that a commit cut short had moved aside
/// (`.prev`) is put back when its final path is empty, else removed. Returns the
/// names swept. Errors (an unreadable folder) are not fatal: nothing is swept.
pub fn sweep_stale(dir: &Path) -> Vec<String> {
    let mut swept = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return swept;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some((base, pid, suffix)) = parse_temp(&name) else {
            continue;
        };
        if process_alive(pid) || !e.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let dest = dir.join(&base);
        let restored = suffix == "prev"
            && std::fs::symlink_metadata(&dest).is_err()
            && std::fs::rename(e.path(), &dest).is_ok();
        if restored || std::fs::remove_file(e.path()).is_ok() {
            swept.push(name);
        }
    }
    if !swept.is_empty() {
        sync_dir(dir);
    }
    swept
}

/// Syncs a folder, making the renames in it durable (Unix; a failure is not fatal).
pub fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// A complete file at a temporary path, waiting for [`commit`] to move it to its
/// destination. Dropped uncommitted, the temporary is removed.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    dest: PathBuf,
}

/// The temporary path of the staged file bound for `dest` (to read a file back before
/// it is committed: the long plays from the reels, the speed versions).
pub fn staged_tmp<'a>(staged: &'a [Staged], dest: &Path) -> Result<&'a Path> {
    staged
        .iter()
        .find(|s| s.dest() == dest)
        .map(|s| s.tmp())
        .ok_or_else(|| Error::Invalid(format!("{} was not staged", dest.display())))
}

impl Staged {
    /// Takes ownership of the temporary file `tmp`, to become `dest`.
    pub fn new(tmp: PathBuf, dest: PathBuf) -> Staged {
        Staged { tmp, dest }
    }

    /// Writes `bytes` to a synced temporary beside `dest`.
    pub fn write(dest: &Path, bytes: &[u8]) -> Result<Staged> {
        let s = Staged::new(temp_path(dest, "partial"), dest.to_path_buf());
        let written = (|| {
            let mut f = File::create(&s.tmp)?;
            f.write_all(bytes)?;
            f.sync_all()
        })();
        written.map_err(|e| Error::io(&s.tmp, e))?;
        Ok(s)
    }

    /// The final path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The temporary path.
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The test-only fault of [`FAIL_COMMIT_ENV`].
fn planted_failure() -> Option<usize> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::env::var(FAIL_COMMIT_ENV).ok()?.trim().parse().ok()
    }
    #[cfg(target_arch = "wasm32")]
    {
        None
    }
}

/// Moves every staged file to its destination, as one delivery.
///
/// First every file now at a destination, and at each path of `retire` (files the new
/// delivery makes obsolete, e.g. a QC report that a plain print does not replace), is
/// renamed aside (`.<name>.<pid>-<n>.prev`); then the staged files are renamed into
/// place, in order. Should any step fail, the new files are removed and the previous
/// ones put back: the folder then holds the previous delivery byte for byte, never a
/// mixture. The folders are synced after the renames. Only files (and links) are moved
/// aside: a folder at a destination makes the commit fail.
pub fn commit(files: Vec<Staged>, retire: &[PathBuf]) -> Result<()> {
    let mut aside: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut placed: Vec<PathBuf> = Vec::new();
    let mut dirs: Vec<PathBuf> = Vec::new();
    for p in files
        .iter()
        .map(|s| s.dest.as_path())
        .chain(retire.iter().map(|p| p.as_path()))
    {
        if let Some(d) = p.parent() {
            if !dirs.iter().any(|x| x == d) {
                dirs.push(d.to_path_buf());
            }
        }
    }
    let fail_at = planted_failure();
    let result = (|| -> Result<()> {
        let dests = files.iter().map(|s| &s.dest).chain(retire);
        for dest in dests {
            let is_file = std::fs::symlink_metadata(dest).is_ok_and(|m| !m.is_dir());
            if !is_file || aside.iter().any(|(_, d)| d == dest) {
                continue;
            }
            let prev = temp_path(dest, "prev");
            std::fs::rename(dest, &prev).map_err(|e| Error::Output {
                path: dest.clone(),
                msg: format!("cannot move the previous file aside: {e}"),
            })?;
            aside.push((prev, dest.clone()));
        }
        for (k, s) in files.iter().enumerate() {
            let r = if fail_at == Some(k) {
                Err(std::io::Error::other(format!(
                    "simulated failure ({FAIL_COMMIT_ENV}={k})"
                )))
            } else {
                std::fs::rename(&s.tmp, &s.dest)
            };
            r.map_err(|e| Error::Output {
                path: s.dest.clone(),
                msg: format!("cannot rename {} into place: {e}", s.tmp.display()),
            })?;
            placed.push(s.dest.clone());
        }
        Ok(())
    })();
    let mut files = files;
    match result {
        Ok(()) => {
            // The temporaries are now the delivered files.
            for s in &mut files {
                s.tmp = PathBuf::new();
            }
            for (prev, _) in &aside {
                let _ = std::fs::remove_file(prev);
            }
        }
        Err(_) => {
            for p in &placed {
                let _ = std::fs::remove_file(p);
            }
            for (prev, dest) in &aside {
                let _ = std::fs::rename(prev, dest);
            }
            // `files` drops here, removing the temporaries not renamed.
        }
    }
    for d in &dirs {
        sync_dir(d);
    }
    result
}

/// The lock of an output folder: one render at a time writes into a folder. The lock
/// file holds the PID of its owner; a lock whose process no longer exists is stale
/// and taken over. Released (removed) on drop.
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
}

impl OutputLock {
    /// Takes the lock of `dir` (which must exist), or fails naming the process that
    /// holds it.
    pub fn acquire(dir: &Path) -> Result<OutputLock> {
        let path = dir.join(LOCK_NAME);
        let mut unreadable = 0;
        for _ in 0..100 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let me = format!("{}\n", pid());
                    f.write_all(me.as_bytes())
                        .and_then(|()| f.sync_all())
                        .map_err(|e| {
                            let _ = std::fs::remove_file(&path);
                            Error::io(&path, e)
                        })?;
                    return Ok(OutputLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(Error::Output {
                        path: dir.to_path_buf(),
                        msg: format!("cannot create the lock file {}: {e}", path.display()),
                    });
                }
            }
            let owner = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok());
            match owner {
                Some(p) if process_alive(p) => {
                    return Err(Error::Output {
                        path: dir.to_path_buf(),
                        msg: format!(
                            "another dubstage process (PID {p}) is rendering into this folder \
                             (lock file {}); wait for it to finish, or render elsewhere \
                             (if no process {p} is running, remove the lock file)",
                            path.display()
                        ),
                    });
                }
                Some(_) => {
                    // Stale: its process is gone.
                    let _ = std::fs::remove_file(&path);
                }
                None => {
                    // Just created by another process that has not written its PID yet,
                    // or left empty by a crash: wait a little, then take it over.
                    unreadable += 1;
                    if unreadable > 20 {
                        let _ = std::fs::remove_file(&path);
                    } else {
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                }
            }
        }
        Err(Error::Output {
            path: dir.to_path_buf(),
            msg: format!("cannot take the lock file {}", path.display()),
        })
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Only our own lock is removed (a lock taken over from us is not ours).
        let ours = std::fs::read_to_string(&self.path)
            .is_ok_and(|t| t.trim().parse::<u32>().ok() == Some(pid()));
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir()
            .join("dubstage-commit-tests")
            .join(format!("{}-{name}", pid()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A PID that no process has: beyond Linux's pid_max (at most 2^22).
    const DEAD: u32 = 4_194_304 + 17;

    #[test]
    fn temp_names_round_trip() {
        let p = temp_path(Path::new("/x/Night Train.v2_L.wav"), "partial");
        let name = p.file_name().unwrap().to_str().unwrap();
        let (base, pid, suffix) = parse_temp(name).unwrap();
        assert_eq!(
            (base.as_str(), pid, suffix),
            ("Night Train.v2_L.wav", self::pid(), "partial")
        );
        assert!(parse_temp("report.json").is_none());
        assert!(parse_temp(".report.json.tmp").is_none());
        assert!(parse_temp(".a.wav.12.partial").is_none());
        assert!(parse_temp(".a.wav.x-1.prev").is_none());
    }

    #[test]
    fn commit_replaces_and_a_failed_commit_restores() {
        let d = dir("commit");
        let (a, b) = (d.join("a.wav"), d.join("SHA256SUMS"));
        std::fs::write(&a, b"old a").unwrap();
        std::fs::write(&b, b"old sums").unwrap();
        let old_report = d.join("report.json");
        std::fs::write(&old_report, b"old report").unwrap();
        // A failure on the second file: the first is taken back, both old files return,
        // the retired one too, and no temporary is left.
        let files = vec![
            Staged::write(&a, b"new a").unwrap(),
            Staged::new(d.join(".missing.1-0.partial"), b.clone()),
        ];
        assert!(commit(files, std::slice::from_ref(&old_report)).is_err());
        assert_eq!(std::fs::read(&a).unwrap(), b"old a");
        assert_eq!(std::fs::read(&b).unwrap(), b"old sums");
        assert_eq!(std::fs::read(&old_report).unwrap(), b"old report");
        let mut names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["SHA256SUMS", "a.wav", "report.json"]);
        // Success: new files in place, the retired one gone, nothing else.
        let files = vec![
            Staged::write(&a, b"new a").unwrap(),
            Staged::write(&b, b"new sums").unwrap(),
        ];
        commit(files, std::slice::from_ref(&old_report)).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"new a");
        assert_eq!(std::fs::read(&b).unwrap(), b"new sums");
        let mut names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["SHA256SUMS", "a.wav"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn sweep_removes_dead_temporaries_and_restores_a_previous_file() {
        if !Path::new("/proc/self").exists() {
            return; // without /proc every process counts as alive: nothing to sweep
        }
        let d = dir("sweep");
        let dead = format!(".p.wav.{DEAD}-3.partial");
        let live = format!(".p.wav.{}-4.partial", pid());
        let prev = format!(".q.wav.{DEAD}-0.prev");
        for n in [&dead, &live, &prev] {
            std::fs::write(d.join(n), n.as_bytes()).unwrap();
        }
        let mut swept = sweep_stale(&d);
        swept.sort();
        assert_eq!(swept, [dead.clone(), prev.clone()]);
        assert!(d.join(&live).exists());
        assert_eq!(std::fs::read(d.join("q.wav")).unwrap(), prev.as_bytes());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn lock_refuses_a_live_owner_and_takes_over_a_dead_one() {
        let d = dir("lock");
        let l = OutputLock::acquire(&d).unwrap();
        let e = OutputLock::acquire(&d).unwrap_err().to_string();
        assert!(e.contains(&format!("PID {}", pid())), "{e}");
        drop(l);
        assert!(!d.join(LOCK_NAME).exists());
        if Path::new("/proc/self").exists() {
            std::fs::write(d.join(LOCK_NAME), format!("{DEAD}\n")).unwrap();
            let l = OutputLock::acquire(&d).unwrap();
            assert_eq!(
                std::fs::read_to_string(d.join(LOCK_NAME)).unwrap().trim(),
                pid().to_string()
            );
            drop(l);
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
