//! Files that hold keys, usage or state: created readable by their owner alone (0600), replaced
//! atomically without losing the mode their owner gave them, and never written through a symbolic
//! link found in their place.
//!
//! Every file here is made with `create_new` (`O_CREAT | O_EXCL`), which fails on any existing
//! entry, a symbolic link included, instead of following it.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The mode of a file created for its user alone.
pub const PRIVATE_MODE: u32 = 0o600;

/// The mode of a folder created for its user alone.
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// What permissions a replacement gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permissions {
    /// Those of the regular file it replaces, else 0600: a `chmod` by the owner sticks.
    KeepExisting,
    /// 0600, whatever was there (for secrets).
    Private,
}

/// Creates `dir` and its missing parents, each new one 0700; existing folders keep their mode.
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(PRIVATE_DIR_MODE);
    }
    builder.create(dir)
}

/// Creates an empty 0600 file at `path` when nothing is there; anything already there (a file, a
/// link the owner made) is left alone.
pub fn create_private_if_missing(path: &Path) -> io::Result<()> {
    match create_new(path, PRIVATE_MODE) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Replaces `path` with `bytes`: written to a new file beside it, synced, then renamed over it, so
/// a reader sees the old contents or the new, never a part. A symbolic link at `path` is replaced,
/// not followed.
pub fn replace(path: &Path, bytes: &[u8], permissions: Permissions) -> io::Result<()> {
    let (mut file, temporary) = create_beside(path, mode_for(path, permissions))?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// A new empty file in place of whatever is at `path` (a symbolic link is replaced, not
/// followed), open for writing: for a log that starts afresh on each run.
pub fn create_replacing(path: &Path, permissions: Permissions) -> io::Result<File> {
    let (file, temporary) = create_beside(path, mode_for(path, permissions))?;
    match std::fs::rename(&temporary, path) {
        Ok(()) => Ok(file),
        Err(e) => {
            let _ = std::fs::remove_file(&temporary);
            Err(e)
        }
    }
}

/// Writes `bytes` to a new 0600 file at `path` after removing what was there (a symbolic link
/// itself, never its target). Fails, writing nothing, if an entry appears there meanwhile.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} is a folder", path.display()),
            ))
        }
        Ok(_) => std::fs::remove_file(path)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut file = create_new(path, PRIVATE_MODE)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The permission bits of the regular file at `path`, if one is there (not through a link).
pub fn existing_mode(path: &Path) -> Option<u32> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Some(meta.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        Some(PRIVATE_MODE)
    }
}

fn mode_for(path: &Path, permissions: Permissions) -> u32 {
    match permissions {
        Permissions::KeepExisting => existing_mode(path).unwrap_or(PRIVATE_MODE),
        Permissions::Private => PRIVATE_MODE,
    }
}

/// A new file `.<name>.<pid>.<n>.tmp` beside `path`, with `mode`.
fn create_beside(path: &Path, mode: u32) -> io::Result<(File, PathBuf)> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "switchyard".to_string());
    let temporary = path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    match create_new(&temporary, mode) {
        // Left by a process that had the same id and died before renaming it.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&temporary)?;
            Ok((create_new(&temporary, mode)?, temporary))
        }
        other => Ok((other?, temporary)),
    }
}

/// Creates a file that did not exist (never opening one through a link) with exactly `mode`.
fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        // The umask may have taken bits from a kept mode; the owner's choice is restored.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    Ok(file)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_new_file_is_private_and_a_rewrite_keeps_the_owners_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        replace(&path, b"one", Permissions::KeepExisting).unwrap();
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        replace(&path, b"two", Permissions::KeepExisting).unwrap();
        assert_eq!(mode(&path), 0o640);
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        replace(&path, b"three", Permissions::Private).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(
            entries(dir.path()),
            ["state.json"],
            "no temporary file left"
        );
    }

    #[test]
    fn a_link_in_the_files_place_is_replaced_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
        let writers: [fn(&Path) -> io::Result<()>; 3] = [
            |p| replace(p, b"new", Permissions::KeepExisting),
            |p| create_replacing(p, Permissions::KeepExisting).map(drop),
            |p| write_new_private(p, b"new"),
        ];
        for (n, write) in writers.into_iter().enumerate() {
            let path = dir.path().join(format!("file{n}"));
            symlink(&victim, &path).unwrap();
            write(&path).unwrap();
            assert_eq!(std::fs::read(&victim).unwrap(), b"precious", "case {n}");
            assert!(
                std::fs::symlink_metadata(&path).unwrap().is_file(),
                "case {n}"
            );
            assert_eq!(mode(&path), 0o600, "a link's mode is not kept (case {n})");
        }
    }

    #[test]
    fn a_log_starts_empty_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, b"old run").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut file = create_replacing(&path, Permissions::KeepExisting).unwrap();
        file.write_all(b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn a_missing_file_is_created_private_and_an_existing_one_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.sqlite");
        create_private_if_missing(&path).unwrap();
        assert_eq!(
            (mode(&path), std::fs::read(&path).unwrap().len()),
            (0o600, 0)
        );
        std::fs::write(&path, b"data").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        create_private_if_missing(&path).unwrap();
        assert_eq!(
            (mode(&path), std::fs::read(&path).unwrap()),
            (0o640, b"data".to_vec())
        );
    }

    #[test]
    fn new_folders_are_private_and_existing_ones_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let deep = dir.path().join("a/b");
        create_private_dir_all(&deep).unwrap();
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&deep), 0o700);
        assert_eq!(mode(dir.path()), 0o755);
    }

    #[test]
    fn a_new_private_file_refuses_a_folder_in_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.bak");
        std::fs::create_dir(&path).unwrap();
        assert!(write_new_private(&path, b"x").is_err());
    }
}
