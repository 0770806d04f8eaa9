//! A TCP relay between the gateway and its object store that counts the
//! bytes the store sends and can cut every connection after a number of
//! them: it shows how much a ranged download really read, and plays a store
//! that fails mid-body.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

pub struct TcpProxy {
    pub port: u16,
    /// Bytes sent by the store, over every connection.
    pub downstream: Arc<AtomicU64>,
    /// Each connection is cut once the store has sent this many bytes on it.
    pub cut_after: Arc<AtomicU64>,
}

impl TcpProxy {
    pub async fn start(target_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let port = listener.local_addr().expect("proxy addr").port();
        let downstream = Arc::new(AtomicU64::new(0));
        let cut_after = Arc::new(AtomicU64::new(u64::MAX));
        let (counted, cut) = (downstream.clone(), cut_after.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (counted, cut) = (counted.clone(), cut.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)).await {
                        relay(client, server, counted, cut).await;
                    }
                });
            }
        });
        Self {
            port,
            downstream,
            cut_after,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

async fn relay(client: TcpStream, server: TcpStream, counted: Arc<AtomicU64>, cut: Arc<AtomicU64>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = async {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    };
    let down = async {
        let mut buf = vec![0u8; 64 * 1024];
        let mut sent = 0u64;
        while let Ok(n) = server_read.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let limit = cut.load(Ordering::SeqCst);
            let allowed = usize::try_from(limit.saturating_sub(sent)).unwrap_or(usize::MAX);
            let n_out = n.min(allowed);
            if client_write.write_all(&buf[..n_out]).await.is_err() {
                break;
            }
            sent += n_out as u64;
            counted.fetch_add(n_out as u64, Ordering::SeqCst);
            if n_out < n {
                break; // cut: the store "fails" mid-body
            }
        }
        let _ = client_write.shutdown().await;
    };
    // Either side ending (a cut included) ends the connection.
    tokio::select! {
        () = up => {}
        () = down => {}
    }
}
