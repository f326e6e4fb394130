//! Records the git commit the binary is built from as `SWITCHYARD_GIT_COMMIT` ("unknown" without
//! git or outside a checkout, e.g. a crates.io build). Reruns only when HEAD or the branch moves.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    // Only this package's own checkout counts: a crate unpacked inside some other repository
    // (a dotfiles repo holding ~/.cargo, say) must not report that repository's commit.
    let in_checkout = Path::new(&manifest_dir).join(".git").exists();
    let commit = if in_checkout {
        git(&["rev-parse", "--short=12", "HEAD"])
    } else {
        None
    };
    println!(
        "cargo:rustc-env=SWITCHYARD_GIT_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    if commit.is_none() {
        return;
    }
    // HEAD names the branch; the branch's ref file (or packed-refs) moves with each commit.
    // `--git-path` resolves both for linked worktrees too. Only existing files are watched: cargo
    // reruns a script on every build when a watched file is missing.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            let path = Path::new(&manifest_dir).join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}
