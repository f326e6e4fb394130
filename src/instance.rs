//! How `switchyard claude` (and `codex`) knows that what answers on the configured port is the
//! gateway serving that same config file, before it sends that gateway any key.
//!
//! At start-up a gateway with a config file makes a random secret and writes it beside the file,
//! readable by its user alone (`config.yaml` → `config.yaml.instance`, 0600; a new one on each
//! start, removed on a clean stop). `GET /healthz?challenge=C` (with or without a key, whatever
//! `auth_mode` says) answers with the header `x-switchyard-instance-proof: HMAC-SHA256(secret,
//! "C <port the request came in on>")`. The launcher sends a fresh random challenge and no key,
//! and compares the proof with the one it computes from the file. A program squatting on the
//! port cannot compute it, and what it sees (a random challenge) is of no use to it later.

use crate::files;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

/// The answer header of `/healthz` that carries the proof for the request's `challenge`.
pub const PROOF_HEADER: &str = "x-switchyard-instance-proof";

/// Bytes of randomness in a secret and in a challenge.
const RANDOM_LEN: usize = 32;

/// The file beside `config` that holds the secret of the gateway serving it. The config's path
/// is resolved first, so a link to the config and the config itself name the same file.
pub fn instance_file(config: &Path) -> PathBuf {
    let config = config
        .canonicalize()
        .unwrap_or_else(|_| config.to_path_buf());
    let mut name = config.as_os_str().to_owned();
    name.push(".instance");
    PathBuf::from(name)
}

/// Why a gateway could not publish its instance file.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("the operating system gave no random bytes for the instance secret")]
    NoRandomness,
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The identity of a serving process: its secret, and the file it is published in.
pub struct Instance {
    secret: Option<[u8; RANDOM_LEN]>,
    file: Option<PathBuf>,
}

impl Instance {
    /// A new random secret, to be published beside `config` (`None`: a gateway without a config
    /// file, such as the demo, publishes nothing).
    pub fn new(config: Option<&Path>) -> Instance {
        Instance {
            secret: random_bytes(),
            file: config.map(instance_file),
        }
    }

    /// Writes the secret to the instance file (0600), replacing the one a previous start left.
    pub fn publish(&self) -> Result<(), InstanceError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let secret = self.secret.ok_or(InstanceError::NoRandomness)?;
        let text = format!("{}\n", hex(&secret));
        files::replace(file, text.as_bytes(), files::Permissions::Private).map_err(|source| {
            InstanceError::Write {
                path: file.display().to_string(),
                source,
            }
        })
    }

    /// Removes the instance file, if it still holds this process's secret.
    pub fn withdraw(&self) {
        let (Some(file), Some(secret)) = (&self.file, &self.secret) else {
            return;
        };
        if read_secret(file).is_ok_and(|found| found == secret) {
            let _ = std::fs::remove_file(file);
        }
    }

    /// The proof for `challenge` received on `port`; `None` for a challenge that is not one.
    pub fn proof(&self, challenge: &str, port: u16) -> Option<String> {
        proof(&self.secret?, challenge, port)
    }
}

/// What a gateway holding `secret` answers to `challenge` received on `port`: hex of
/// HMAC-SHA256(secret, "<challenge> <port>"). `None` unless the challenge is 16 to 128 letters
/// and digits.
pub fn proof(secret: &[u8], challenge: &str, port: u16) -> Option<String> {
    let valid = (16..=128).contains(&challenge.len())
        && challenge.bytes().all(|b| b.is_ascii_alphanumeric());
    valid.then(|| {
        hex(&hmac_sha256(
            secret,
            format!("{challenge} {port}").as_bytes(),
        ))
    })
}

/// Compares two proofs in constant time.
pub fn proofs_match(expected: &str, found: &str) -> bool {
    expected.len() == found.len() && bool::from(expected.as_bytes().ct_eq(found.as_bytes()))
}

/// A fresh random challenge (hex); `None` when the operating system gives no randomness.
pub fn new_challenge() -> Option<String> {
    random_bytes::<RANDOM_LEN>().map(|bytes| hex(&bytes))
}

/// The secret in an instance file. Refused when others than its owner may read it: then it
/// proves nothing.
pub fn read_secret(file: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut opened = std::fs::File::open(file).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "{} does not exist (the gateway serving this config writes it when it starts)",
            file.display()
        ),
        _ => format!("cannot read {}: {e}", file.display()),
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = opened
            .metadata()
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} may be read by other users (mode {:o}), so it proves nothing; the gateway writes it 0600",
                file.display(),
                mode & 0o777
            ));
        }
    }
    let mut text = String::new();
    opened
        .by_ref()
        .take(1024)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    unhex(text.trim())
        .filter(|secret| secret.len() == RANDOM_LEN)
        .ok_or_else(|| format!("{} does not hold an instance secret", file.display()))
}

fn random_bytes<const N: usize>() -> Option<[u8; N]> {
    let mut bytes = [0u8; N];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .ok()?;
    Some(bytes)
}

/// HMAC (RFC 2104) over SHA-256.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_proof_depends_on_secret_challenge_and_port() {
        let challenge = "a".repeat(32);
        let p = proof(&[1; 32], &challenge, 8045).unwrap();
        assert_eq!(p.len(), 64);
        assert_ne!(Some(&p), proof(&[2; 32], &challenge, 8045).as_ref());
        assert_ne!(Some(&p), proof(&[1; 32], &"b".repeat(32), 8045).as_ref());
        assert_ne!(Some(&p), proof(&[1; 32], &challenge, 8046).as_ref());
        assert!(proofs_match(&p, &p.clone()));
        assert!(!proofs_match(&p, &p[1..]));
    }

    #[test]
    fn only_a_plain_challenge_of_sensible_length_is_answered() {
        for bad in [
            "short",
            &"x".repeat(129),
            &format!("{}\r\nx: y", "a".repeat(20)),
        ] {
            assert_eq!(proof(&[1; 32], bad, 1), None, "{bad:?}");
        }
        let fresh = new_challenge().unwrap();
        assert!(proof(&[1; 32], &fresh, 1).is_some());
        assert_ne!(Some(fresh), new_challenge());
    }

    #[cfg(unix)]
    #[test]
    fn a_published_secret_is_private_read_back_and_withdrawn() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yaml");
        std::fs::write(&config, "").unwrap();
        let file = instance_file(&config);
        assert_eq!(file.file_name().unwrap(), "config.yaml.instance");
        let first = Instance::new(Some(&config));
        first.publish().unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let secret = read_secret(&file).unwrap();
        let challenge = new_challenge().unwrap();
        assert_eq!(
            proof(&secret, &challenge, 9),
            first.proof(&challenge, 9),
            "the launcher computes what the gateway answers"
        );
        // A second start takes over; the first one's stop leaves the second's file alone.
        let second = Instance::new(Some(&config));
        second.publish().unwrap();
        first.withdraw();
        assert!(file.exists());
        second.withdraw();
        assert!(!file.exists());
        assert!(read_secret(&file).unwrap_err().contains("does not exist"));
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_others_can_read_proves_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.yaml.instance");
        std::fs::write(&file, format!("{}\n", "ab".repeat(32))).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_secret(&file).unwrap(), vec![0xab; 32]);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_secret(&file).unwrap_err().contains("other users"));
    }
}
