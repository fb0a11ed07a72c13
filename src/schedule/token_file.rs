//! Long replay tokens go to a file, and the replay line names the file (`GOWEAVE_REPLAY=@path`).
//!
//! Linux refuses to start a command with an environment string longer than 128 KiB
//! (`MAX_ARG_STRLEN`), which a token reaches at about 175k steps; a line of a few kilobytes is
//! already unreadable in a terminal. So a token longer than [`LONG_TOKEN`] is written to
//! `<target dir>/goweave/replay-<hash>.token` and reports print `@<that path>` in its place.
//!
//! The file name is a hash of the token, so printing a report twice writes one file, and two
//! failures never overwrite each other's token. The target directory is the one the running
//! test binary was built into (the ancestor of the executable that holds cargo's
//! `CACHEDIR.TAG`), else `CARGO_TARGET_DIR`, else `target/` under `CARGO_MANIFEST_DIR`, else
//! the system's temporary directory.

use std::path::{Path, PathBuf};

use super::LONG_TOKEN;
use crate::util::hash::fnv1a;

/// What a report prints after `GOWEAVE_REPLAY=`: the token itself when it is short, else
/// `@path` of the file it was written to. If the file cannot be written the token is returned
/// as it is, with a note saying why.
pub(crate) fn replay_arg(token: &str) -> (String, Option<String>) {
    if token.len() <= LONG_TOKEN {
        return (token.to_string(), None);
    }
    match write(token, &target_dir()) {
        Ok(path) => (format!("@{}", shell_quoted(&path.display().to_string())), None),
        Err(e) => (
            token.to_string(),
            Some(format!(
                "note: the token is {} characters long, too long for some shells, and it could not be written to a file: {e}",
                token.len()
            )),
        ),
    }
}

/// Writes `token` under `dir/goweave/`, once; returns the absolute path.
fn write(token: &str, dir: &Path) -> std::io::Result<PathBuf> {
    let dir = dir.join("goweave");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("replay-{:016x}.token", fnv1a(token.as_bytes())));
    let path = std::path::absolute(&path).unwrap_or(path);
    let same = std::fs::read(&path).is_ok_and(|old| old == token.as_bytes());
    if !same {
        // Write under a temporary name and rename, so that a concurrent reader (another test
        // printing the same report) never sees half a token.
        let tmp = dir.join(format!(
            "replay-{:016x}.{}.tmp",
            fnv1a(token.as_bytes()),
            std::process::id()
        ));
        std::fs::write(&tmp, token)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(path)
}

/// The cargo target directory this process belongs to (see the module documentation).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().ok();
    if let Some(dir) = exe.as_deref().and_then(|e| {
        e.ancestors()
            .skip(1)
            .find(|d| d.join("CACHEDIR.TAG").is_file())
    }) {
        return dir.to_path_buf();
    }
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("CARGO_MANIFEST_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("target");
    }
    std::env::temp_dir()
}

/// `s` as one shell word (single-quoted when it holds anything but plain path characters).
fn shell_quoted(s: &str) -> String {
    let plain = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:,@%=".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tokens_stay_inline() {
        let (arg, note) = replay_arg("gw1:abc");
        assert_eq!(arg, "gw1:abc");
        assert!(note.is_none());
    }

    #[test]
    fn a_long_token_is_written_once_and_named_by_its_hash() {
        let dir = std::env::temp_dir().join(format!("goweave-token-file-{}", std::process::id()));
        let token = format!("gw1:{}", "A".repeat(LONG_TOKEN));
        let a = write(&token, &dir).unwrap();
        let b = write(&token, &dir).unwrap();
        assert_eq!(a, b);
        assert!(a.is_absolute());
        assert_eq!(std::fs::read_to_string(&a).unwrap(), token);
        let other = write(&format!("{token}B"), &dir).unwrap();
        assert_ne!(a, other);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn paths_with_spaces_are_quoted() {
        assert_eq!(shell_quoted("/a/b-c/x.token"), "/a/b-c/x.token");
        assert_eq!(shell_quoted("/a b/it's"), "'/a b/it'\\''s'");
    }
}
