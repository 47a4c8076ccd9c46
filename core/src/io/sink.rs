//! The platform I/O under the writers: a file hashed on a thread of its own as it is
//! written, background writeback of long files, and `O_DIRECT` data writes on Linux.
//! Nothing here knows a file format.

use sha2::{Digest, Sha256};
use std::fs::File;
#[cfg(target_os = "linux")]
use std::fs::OpenOptions;
#[cfg(target_os = "linux")]
use std::path::Path;

/// Data bytes between two background writebacks of a long file, by default.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) const FLUSH_EVERY: u64 = 64 << 20;

/// The SHA-256 of a file whose header is final before its data: the bytes are copied
/// into recycled buffers and hashed on a thread of their own where threads exist (so the
/// writer's thread does not wait for the hash), else inline.
pub(crate) struct RunningHash {
    inline: Option<Sha256>,
    #[cfg(not(target_arch = "wasm32"))]
    worker: Option<HashWorker>,
}

#[cfg(not(target_arch = "wasm32"))]
struct HashWorker {
    tx: std::sync::mpsc::SyncSender<(Vec<u32>, usize)>,
    back: std::sync::mpsc::Receiver<Vec<u32>>,
    thread: std::thread::JoinHandle<Sha256>,
}

impl RunningHash {
    pub(crate) fn new(header: &[u8]) -> RunningHash {
        let mut hasher = Sha256::new();
        hasher.update(header);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<u32>, usize)>(2);
            let (back_tx, back) = std::sync::mpsc::channel::<Vec<u32>>();
            let mut h = hasher.clone();
            let spawned = std::thread::Builder::new()
                .name("dubstage-sha256".into())
                .spawn(move || {
                    for (v, bytes) in rx {
                        h.update(&bytemuck::cast_slice::<u32, u8>(&v)[..bytes]);
                        let _ = back_tx.send(v);
                    }
                    h
                });
            if let Ok(thread) = spawned {
                return RunningHash {
                    inline: None,
                    worker: Some(HashWorker { tx, back, thread }),
                };
            }
        }
        RunningHash {
            inline: Some(hasher),
            #[cfg(not(target_arch = "wasm32"))]
            worker: None,
        }
    }

    /// Hashes the first `bytes` bytes of `buf` next. With a worker thread the buffer
    /// itself goes to the worker (no copy) and `buf` becomes a recycled one (contents
    /// unspecified). `false` when the worker is gone (then the file is read back).
    // A Vec (not a slice): with a worker thread the buffer itself is handed over.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::ptr_arg))]
    pub(crate) fn update(&mut self, buf: &mut Vec<u32>, bytes: usize) -> bool {
        if let Some(h) = &mut self.inline {
            h.update(&bytemuck::cast_slice::<u32, u8>(buf)[..bytes]);
            return true;
        }
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(w) = &self.worker {
            let spare = w.back.try_recv().unwrap_or_default();
            let full = std::mem::replace(buf, spare);
            return w.tx.send((full, bytes)).is_ok();
        }
        false
    }

    /// The hasher after every update (`None` if the worker failed).
    pub(crate) fn into_hasher(self) -> Option<Sha256> {
        if let Some(h) = self.inline {
            return Some(h);
        }
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(w) = self.worker {
            drop(w.tx);
            return w.thread.join().ok();
        }
        None
    }
}

/// Syncs `file` to disk and hashes it from its first byte, read back in large blocks
/// (through the page cache, where the bytes just written still are): the sync runs on a
/// second handle on a thread of its own while this one reads and hashes, so the disk and
/// the CPU work at once. Returns the hasher and the bytes read, once both are done.
pub(crate) fn sync_and_hash_back(file: &mut File) -> std::io::Result<(Sha256, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    let hash_back = |file: &mut File| -> std::io::Result<(Sha256, u64)> {
        file.seek(SeekFrom::Start(0))?;
        let mut hasher = Sha256::new();
        let mut block = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let k = file.read(&mut block)?;
            if k == 0 {
                return Ok((hasher, total));
            }
            hasher.update(&block[..k]);
            total += k as u64;
        }
    };
    #[cfg(not(target_arch = "wasm32"))]
    {
        let other = file.try_clone()?;
        let (synced, hashed) = std::thread::scope(|s| {
            let syncing = std::thread::Builder::new()
                .name("dubstage-sync".into())
                .spawn_scoped(s, move || other.sync_all());
            let hashed = hash_back(file);
            let synced = match syncing {
                Ok(t) => t
                    .join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("sync thread panicked"))),
                // No thread: sync here, after the hash.
                Err(_) => file.sync_all(),
            };
            (synced, hashed)
        });
        synced?;
        hashed
    }
    #[cfg(target_arch = "wasm32")]
    {
        file.sync_all()?;
        hash_back(file)
    }
}

/// A thread that syncs a file's data to disk while the file is still being written:
/// the disk works during the render instead of after it. Safe std only: `sync_data` on
/// a second handle of the same file.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) struct Flusher {
    tx: std::sync::mpsc::SyncSender<()>,
    handle: std::thread::JoinHandle<std::io::Result<()>>,
}

#[cfg(not(target_arch = "wasm32"))]
impl Flusher {
    pub(crate) fn start(file: &File) -> std::io::Result<Flusher> {
        let f = file.try_clone()?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let handle = std::thread::Builder::new()
            .name("dubstage-writeback".into())
            .spawn(move || {
                for () in rx {
                    f.sync_data()?;
                }
                Ok(())
            })?;
        Ok(Flusher { tx, handle })
    }

    /// Asks for a writeback unless one is already pending.
    pub(crate) fn poke(&self) {
        let _ = self.tx.try_send(());
    }

    /// Waits for the thread; its first error, if any.
    pub(crate) fn stop(self) -> std::io::Result<()> {
        drop(self.tx);
        self.handle
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("writeback thread panicked")))
    }
}

/// Files whose data will pass this size are written unbuffered (see [`Unbuffered`]).
#[cfg(target_os = "linux")]
pub(crate) const UNBUFFERED_MIN_BYTES: u64 = 64 << 20;

/// Offsets, lengths and buffer addresses of unbuffered writes are multiples of this
/// (the largest logical block size of common disks).
#[cfg(target_os = "linux")]
const UNBUFFERED_ALIGN: usize = 4096;

/// Bytes per unbuffered write (up to four such buffers per file: one filling, two queued,
/// one being written).
#[cfg(target_os = "linux")]
const UNBUFFERED_STAGE: usize = 1 << 20;

/// A deliverable's data written with `O_DIRECT` (Linux), from aligned buffers, by a
/// thread of its own: the disk works while the render goes on, the bytes are not
/// copied into the page cache, and no page-cache memory is taken for files that are
/// not read back soon (on a VM, fresh page-cache pages can cost more than the write
/// itself). The bytes before the first aligned offset and after the last one (the
/// header's page and the tail) go through the page cache as usual. Where the file
/// system refuses `O_DIRECT` (tmpfs), the writer stays buffered. Safe std only: an
/// aligned window of an over-allocated `Vec`, `pwrite` through `FileExt`.
#[cfg(target_os = "linux")]
pub(crate) struct Unbuffered {
    /// Dropped (`None`) to end the thread.
    tx: Option<std::sync::mpsc::SyncSender<(AlignedBuf, u64, usize)>>,
    back: std::sync::mpsc::Receiver<AlignedBuf>,
    /// Taken when it is joined (at the end, or on its error).
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    stage: AlignedBuf,
    fill: usize,
    /// File offset of the stage's first byte (aligned).
    at: u64,
    /// Bytes still to be written through the page cache before `at`, from `head_at`.
    head_left: usize,
    head_at: u64,
}

/// `UNBUFFERED_STAGE` bytes at an `UNBUFFERED_ALIGN`-aligned address.
#[cfg(target_os = "linux")]
struct AlignedBuf {
    v: Vec<u8>,
    off: usize,
}

#[cfg(target_os = "linux")]
impl AlignedBuf {
    fn new() -> Option<AlignedBuf> {
        let v = vec![0u8; UNBUFFERED_STAGE + UNBUFFERED_ALIGN];
        let off = v.as_ptr().align_offset(UNBUFFERED_ALIGN);
        (off < UNBUFFERED_ALIGN).then_some(AlignedBuf { v, off })
    }
    fn bytes(&self) -> &[u8] {
        &self.v[self.off..self.off + UNBUFFERED_STAGE]
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.v[self.off..self.off + UNBUFFERED_STAGE]
    }
}

#[cfg(target_os = "linux")]
impl Unbuffered {
    /// Opens `tmp` a second time, unbuffered, for data from `data_start` on; `None`
    /// where that is not possible (the writer then stays buffered).
    pub(crate) fn open(tmp: &Path, data_start: u64) -> Option<Unbuffered> {
        use std::os::unix::fs::{FileExt, OpenOptionsExt};
        let file = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(tmp)
            .ok()?;
        let align = UNBUFFERED_ALIGN as u64;
        let at = data_start.div_ceil(align) * align;
        let stage = AlignedBuf::new()?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<(AlignedBuf, u64, usize)>(2);
        let (back_tx, back) = std::sync::mpsc::channel::<AlignedBuf>();
        let thread = std::thread::Builder::new()
            .name("dubstage-direct".into())
            .spawn(move || -> std::io::Result<()> {
                for (buf, at, len) in rx {
                    file.write_all_at(&buf.bytes()[..len], at)?;
                    let _ = back_tx.send(buf);
                }
                Ok(())
            })
            .ok()?;
        Some(Unbuffered {
            tx: Some(tx),
            back,
            thread: Some(thread),
            stage,
            fill: 0,
            at,
            head_left: (at - data_start) as usize,
            head_at: data_start,
        })
    }

    /// Appends `bytes` of data; `file` is the page-cache handle (for the head).
    pub(crate) fn push(&mut self, file: &File, mut bytes: &[u8]) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        if self.head_left > 0 {
            let k = self.head_left.min(bytes.len());
            file.write_all_at(&bytes[..k], self.head_at)?;
            self.head_left -= k;
            self.head_at += k as u64;
            bytes = &bytes[k..];
        }
        while !bytes.is_empty() {
            let k = (UNBUFFERED_STAGE - self.fill).min(bytes.len());
            self.stage.bytes_mut()[self.fill..self.fill + k].copy_from_slice(&bytes[..k]);
            self.fill += k;
            bytes = &bytes[k..];
            if self.fill == UNBUFFERED_STAGE {
                let next = match self.back.try_recv() {
                    Ok(b) => b,
                    Err(_) => AlignedBuf::new()
                        .ok_or_else(|| std::io::Error::other("cannot align a write buffer"))?,
                };
                let full = std::mem::replace(&mut self.stage, next);
                self.send(full, UNBUFFERED_STAGE)?;
                self.at += UNBUFFERED_STAGE as u64;
                self.fill = 0;
            }
        }
        Ok(())
    }

    fn send(&mut self, buf: AlignedBuf, len: usize) -> std::io::Result<()> {
        let sent = self.tx.as_ref().map(|tx| tx.send((buf, self.at, len)));
        if !matches!(sent, Some(Ok(()))) {
            // The thread stopped on an error (a full disk, say): that error.
            return Err(self
                .join()
                .err()
                .unwrap_or_else(|| std::io::Error::other("the unbuffered writer stopped")));
        }
        Ok(())
    }

    /// Waits for the thread (once); its first error, if any.
    fn join(&mut self) -> std::io::Result<()> {
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("unbuffered writer panicked"))),
            None => Ok(()),
        }
    }

    /// Writes what is staged (the aligned part unbuffered, the rest through `file`) and
    /// waits for the thread; its first error, if any.
    pub(crate) fn finish(mut self, file: &File) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let aligned = self.fill / UNBUFFERED_ALIGN * UNBUFFERED_ALIGN;
        let tail = self.stage.bytes()[aligned..self.fill].to_vec();
        let tail_at = self.at + aligned as u64;
        let stage = std::mem::replace(
            &mut self.stage,
            AlignedBuf {
                v: Vec::new(),
                off: 0,
            },
        );
        let sent = if aligned > 0 {
            self.send(stage, aligned)
        } else {
            Ok(())
        };
        self.tx = None;
        self.join()?;
        sent?;
        if !tail.is_empty() {
            file.write_all_at(&tail, tail_at)?;
        }
        Ok(())
    }
}
