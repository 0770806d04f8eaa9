//! A private S3-protocol server for one test: `s3s-fs` (it checks SigV4
//! signatures; a bucket is a folder of its root, an object a file), on a
//! reserved port, with its own root folder, stopped and started again on the
//! same port by outage tests. `scripts/test.sh` installs it
//! (`scripts/services.sh`, `ensure_s3s_fs`); `S3S_FS` names the binary.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ports::{Reserved, reserve};

pub const BUCKET: &str = "catalogue";
pub const PREFIX: &str = "assets/";
pub const ACCESS_KEY: &str = "assetgate-test";
pub const SECRET_KEY: &str = "assetgate-test-secret";

pub struct S3Server {
    port: Reserved,
    pub root: tempfile::TempDir,
    child: Option<Child>,
}

/// The `s3s-fs` binary: `$S3S_FS`, the test command's tool cache, or `PATH`.
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("S3S_FS") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|c| c.join("assetgate-tools/bin/s3s-fs"));
    match cache {
        Some(path) if path.is_file() => path,
        _ => PathBuf::from("s3s-fs"),
    }
}

impl S3Server {
    /// Starts a server with an empty bucket.
    pub fn start() -> Self {
        let root = tempfile::tempdir().expect("s3 root");
        std::fs::create_dir_all(root.path().join(BUCKET)).expect("bucket folder");
        let mut server = Self {
            port: reserve(),
            root,
            child: None,
        };
        server.start_again();
        server
    }

    pub fn port(&self) -> u16 {
        self.port.port
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    /// Starts the (stopped) server again on its port, and waits until it accepts.
    pub fn start_again(&mut self) {
        let child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", &self.port().to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(self.root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start s3s-fs ({}): {e}. scripts/test.sh installs it \
                     (or set S3S_FS to the binary)",
                    binary().display()
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port())).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (an outage); the stored objects stay in its root.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Points `settings` at this server's bucket.
    pub fn configure(&self, settings: &mut assetgate::config::Settings) {
        use assetgate::config::StorageBackend;
        settings.storage.backend = StorageBackend::S3;
        let s3 = &mut settings.storage.s3;
        s3.bucket = BUCKET.to_owned();
        s3.endpoint = self.endpoint();
        s3.region = "us-east-1".to_owned();
        s3.prefix = PREFIX.to_owned();
        s3.access_key_id = ACCESS_KEY.to_owned();
        s3.secret_access_key = secrecy::SecretString::from(SECRET_KEY);
        s3.force_path_style = true;
        s3.allow_http = true;
    }

    /// The same settings as environment variables, for the CLI (backend not
    /// included: `storage migrate` runs before the switch).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ASSETGATE__STORAGE__S3__BUCKET", BUCKET.to_owned()),
            ("ASSETGATE__STORAGE__S3__ENDPOINT", self.endpoint()),
            ("ASSETGATE__STORAGE__S3__PREFIX", PREFIX.to_owned()),
            (
                "ASSETGATE__STORAGE__S3__ACCESS_KEY_ID",
                ACCESS_KEY.to_owned(),
            ),
            (
                "ASSETGATE__STORAGE__S3__SECRET_ACCESS_KEY",
                SECRET_KEY.to_owned(),
            ),
            (
                "ASSETGATE__STORAGE__S3__FORCE_PATH_STYLE",
                "true".to_owned(),
            ),
            ("ASSETGATE__STORAGE__S3__ALLOW_HTTP", "true".to_owned()),
        ]
    }

    /// The file behind the object with this digest (s3s-fs keeps objects as files).
    pub fn object_path(&self, sha256: &str) -> PathBuf {
        self.root
            .path()
            .join(BUCKET)
            .join(PREFIX.trim_end_matches('/'))
            .join(&sha256[..2])
            .join(sha256)
    }

    /// Every object key in the bucket (files below its folder).
    pub fn keys(&self) -> Vec<String> {
        let bucket = self.root.path().join(BUCKET);
        let mut keys = Vec::new();
        let mut dirs = vec![bucket.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if let Ok(rel) = path.strip_prefix(&bucket) {
                    keys.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        keys.sort();
        keys
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}
