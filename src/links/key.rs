//! The link signing key: from configuration, or generated once into a file
//! (mode 0600) that every instance of a fleet must share.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use base64::Engine as _;
use rand::RngCore as _;
use secrecy::ExposeSecret as _;

use crate::config::{LinkSettings, decode_signing_key};

pub fn load_or_create_signing_key(links: &LinkSettings) -> anyhow::Result<Vec<u8>> {
    let configured = links.signing_key.expose_secret();
    if !configured.is_empty() {
        return Ok(decode_signing_key(configured)?);
    }
    let path = &links.signing_key_file;
    match std::fs::read_to_string(path) {
        Ok(text) => decode_signing_key(&text).with_context(|| {
            format!(
                "the signing key file {} is not valid; fix or delete it",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path),
        Err(e) => {
            Err(e).with_context(|| format!("reading the signing key file {}", path.display()))
        }
    }
}

/// Creates the key file atomically: the key is written to a temporary file
/// beside it, then linked into place with `link(2)`, which never overwrites.
/// Of several processes starting at once, one wins and the others read its
/// complete file; none can read a half-written one.
fn create(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut key = vec![0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(".signing-key-{}", uuid::Uuid::new_v4().simple()));
    let written = write_new(&tmp, &key);
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path).map_err(anyhow::Error::from));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated a new link signing key");
            Ok(key)
        }
        // Another process created it first: use theirs (complete, since linked last).
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::AlreadyExists) =>
        {
            let text = std::fs::read_to_string(path)?;
            Ok(decode_signing_key(&text)?)
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// Writes `key` (base64) into a new file with mode 0600, flushed to disk.
fn write_new(path: &Path, key: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(
        base64::engine::general_purpose::STANDARD
            .encode(key)
            .as_bytes(),
    )?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn generates_once_with_mode_0600_then_reuses() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let links = LinkSettings {
            ttl_seconds: 60,
            signing_key: SecretString::from(""),
            signing_key_file: dir.path().join("data/signing.key"),
            previous_signing_keys: SecretString::from(""),
            revocation_margin_seconds: 0,
        };
        let first = load_or_create_signing_key(&links)?;
        let second = load_or_create_signing_key(&links)?;
        assert_eq!(first, second);
        assert_eq!(first.len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&links.signing_key_file)?
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        Ok(())
    }

    #[test]
    fn processes_starting_at_once_agree_on_one_complete_key() -> anyhow::Result<()> {
        for _ in 0..30 {
            let dir = tempfile::tempdir()?;
            let links = LinkSettings {
                ttl_seconds: 60,
                signing_key: SecretString::from(""),
                signing_key_file: dir.path().join("signing.key"),
                previous_signing_keys: SecretString::from(""),
                revocation_margin_seconds: 0,
            };
            let keys: Vec<Vec<u8>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| load_or_create_signing_key(&links).map_err(|e| e.to_string()))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().map_err(|_| "panicked".to_owned()).and_then(|r| r))
                    .collect::<Result<_, _>>()
            })
            .map_err(anyhow::Error::msg)?;
            assert!(keys.windows(2).all(|w| w[0] == w[1]), "one key for all");
            let leftovers = std::fs::read_dir(dir.path())?.count();
            assert_eq!(leftovers, 1, "only the key file remains");
        }
        Ok(())
    }
}
