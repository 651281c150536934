//! The workspace's one atomic file write. A reader sees either the old file or the complete new
//! one, never half a file, and once the call returns the new file survives a crash: the content
//! goes to a temporary file in the target's folder (a rename is atomic only within one file
//! system), the file is fsynced, renamed over the target, and the folder is fsynced so that the
//! rename itself is on disk.
//!
//! Errors are plain `std::io::Error`s; each crate wraps them in its own error type with the path.
//!
//! The checkpoint folder ([`write_dir`]) and the cutting back of a log on resume ([`cut_jsonl`])
//! are here too: pretraining and the trainers checkpoint and resume the same way.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `bytes` to `path` atomically (see the crate documentation). The folder must exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Like [`write_atomic`], with `fill` writing the content into the temporary file (for content
/// that is streamed rather than held in memory). If `fill` or any later step fails, the temporary
/// file is removed and the target is left as it was.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = temp_path(dir, path)?;
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        fill(&mut f)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Failing to sync a folder is not an error: some file systems do not support it.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A hidden name beside the target, unique per process and call, so that two writers of the same
/// file (other processes, or threads of this one) never share a temporary file.
fn temp_path(dir: &Path, path: &Path) -> io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Ok(dir.join(format!(
        ".{}.{}.{n}.tmp",
        name.to_string_lossy(),
        std::process::id()
    )))
}

/// Builds the folder `dir` atomically (a checkpoint): `fill` writes into a fresh temporary sibling
/// folder, which is synced and then replaces `dir`; the previous version is removed only after the
/// new one is in place, so a crash leaves the old folder or the new one, never half of one. `io`
/// turns a file-system error (and the path it concerns) into the caller's error type.
pub fn write_dir<E>(
    dir: &Path,
    fill: impl FnOnce(&Path) -> Result<(), E>,
    io: impl Fn(&Path, io::Error) -> E,
) -> Result<(), E> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("checkpoint")
        .to_string();
    let tmp = dir.with_file_name(format!(".{name}.tmp"));
    let old = dir.with_file_name(format!(".{name}.old"));
    for stale in [&tmp, &old] {
        if stale.exists() {
            fs::remove_dir_all(stale).map_err(|e| io(stale, e))?;
        }
    }
    fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    fill(&tmp)?;
    File::open(&tmp)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(&tmp, e))?;
    if dir.exists() {
        fs::rename(dir, &old).map_err(|e| io(dir, e))?;
    }
    fs::rename(&tmp, dir).map_err(|e| io(dir, e))?;
    if old.exists() {
        fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
    }
    Ok(())
}

/// Cuts a JSON Lines log back to a checkpoint: keeps, atomically, the rows whose integer field
/// `key` is below `keep_below`, and drops the rest (rows written after the checkpoint, and a line
/// torn by a crash). A missing file becomes an empty one. Resumed runs of every trainer call this,
/// so the log of a resumed run equals that of an uninterrupted one.
pub fn cut_jsonl(path: &Path, key: &str, keep_below: u64) -> io::Result<()> {
    let kept: Vec<String> = match fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .filter(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .and_then(|v| v.get(key).and_then(|s| s.as_u64()))
                    .is_some_and(|s| s < keep_below)
            })
            .map(str::to_string)
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut body = kept.join("\n");
    if !body.is_empty() {
        body.push('\n');
    }
    write_atomic(path, body.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_content_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("report.md");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        write_atomic_with(&p, |f| f.write_all(b"third")).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"third");
        assert_eq!(names(dir.path()), vec!["report.md"]);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        write_atomic(&p, b"old").unwrap();
        let e = write_atomic_with(&p, |f| {
            f.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "disk full");
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(names(dir.path()), vec!["state.json"]);
    }

    #[test]
    fn a_missing_folder_or_file_name_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = write_atomic(&dir.path().join("nope/x.jsonl"), b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let e = write_atomic(Path::new("/"), b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn a_folder_is_replaced_whole_and_a_failed_fill_keeps_the_old_one() {
        let root = tempfile::tempdir().unwrap();
        let ck = root.path().join("checkpoint");
        let io = |p: &Path, e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", p.display()));
        write_dir(&ck, |d| fs::write(d.join("state.json"), "1"), io).unwrap();
        write_dir(&ck, |d| fs::write(d.join("state.json"), "2"), io).unwrap();
        assert_eq!(fs::read_to_string(ck.join("state.json")).unwrap(), "2");
        let e = write_dir(
            &ck,
            |d| {
                fs::write(d.join("state.json"), "3")?;
                Err(io::Error::other("disk full"))
            },
            io,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "disk full");
        assert_eq!(fs::read_to_string(ck.join("state.json")).unwrap(), "2");
        // The next write clears what the failed one left behind.
        write_dir(&ck, |d| fs::write(d.join("state.json"), "4"), io).unwrap();
        assert_eq!(names(root.path()), vec!["checkpoint"]);
    }

    #[test]
    fn a_log_is_cut_back_to_the_checkpoint_and_a_torn_line_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("metrics.jsonl");
        fs::write(&p, "{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n{\"st").unwrap();
        cut_jsonl(&p, "step", 3).unwrap();
        assert_eq!(
            fs::read_to_string(&p).unwrap(),
            "{\"step\":1}\n{\"step\":2}\n"
        );
        cut_jsonl(&p, "step", 0).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "");
        let fresh = dir.path().join("new.jsonl");
        cut_jsonl(&fresh, "step", 5).unwrap();
        assert!(fresh.is_file());
    }

    #[test]
    fn concurrent_writers_of_one_file_never_mix() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("shared.txt");
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let p = &p;
                s.spawn(move || {
                    for _ in 0..20 {
                        write_atomic(p, &[b'a' + t; 4096]).unwrap();
                    }
                });
            }
        });
        let got = fs::read(&p).unwrap();
        assert_eq!(got.len(), 4096);
        assert!(got.iter().all(|&b| b == got[0]));
        assert_eq!(names(dir.path()), vec!["shared.txt"]);
    }
}
