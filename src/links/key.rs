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

fn create(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut key = vec![0u8; 32];
    rand::rng().fill_bytes(&mut key);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(
                base64::engine::general_purpose::STANDARD
                    .encode(&key)
                    .as_bytes(),
            )
            .with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a new link signing key");
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path)?;
            Ok(decode_signing_key(&text)?)
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
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
}
