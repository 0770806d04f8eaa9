//! Ports for the servers the tests start themselves (Redis, Sentinel, Redis
//! Cluster nodes, PostgreSQL, chromedriver) — servers a test may kill and start
//! again *on the same port*.
//!
//! A port from `bind("127.0.0.1:0")` comes from the kernel's ephemeral range,
//! the same pool every `connect()` and every other `bind(0)` on the machine
//! draws from. Once a test kills its server, nothing holds that port: a
//! gateway of a test running beside it (port 0), another test's `free_port()`
//! or the source port of an outgoing connection may take it before the
//! restart, and the restarted server exits with "Address already in use". A
//! Redis Cluster node also binds its bus port (`port + 10000`), which no one
//! checked at all. On a busy machine (the whole suite running) that is how a
//! restarted cluster node went missing (issue 29).
//!
//! So a reserved port and its `+ 10000` partner both lie *below* the ephemeral
//! range, where the kernel never hands out a port by itself, and a lock file
//! held for the life of the [`Reserved`] keeps every other test process (each
//! nextest test is one) away from them. The lock is released by the kernel
//! when the process ends, however it ends.

use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;

/// The partner port a Redis Cluster node binds for its bus.
pub const BUS_OFFSET: u16 = 10_000;

/// A port (and its bus partner) that no other process of these tests uses
/// while this value lives.
#[derive(Debug)]
pub struct Reserved {
    pub port: u16,
    _lock: File,
}

fn lock_dir() -> PathBuf {
    let dir = std::env::temp_dir().join("assetgate-test-ports");
    std::fs::create_dir_all(&dir).expect("a directory for port locks");
    dir
}

/// The low end of the kernel's ephemeral port range (Linux), 32768 if unknown.
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// The candidates: `port` and `port + BUS_OFFSET` both below the ephemeral
/// range and above the well-known services' ports.
fn candidates() -> std::ops::Range<u16> {
    let low = 10_000;
    let high = ephemeral_low().saturating_sub(BUS_OFFSET);
    assert!(
        high > low + 1_000,
        "the ephemeral port range starts at {}: too low to keep test servers' ports out of it \
         (raise net.ipv4.ip_local_port_range's lower bound to 32768)",
        ephemeral_low()
    );
    low..high
}

fn free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Reserves a port whose `+ 10000` partner is free as well.
pub fn reserve() -> Reserved {
    let range = candidates();
    let span = u32::from(range.end - range.start);
    let start = rand::random_range(0..span);
    let dir = lock_dir();
    for i in 0..span {
        let port = range.start + u16::try_from((start + i) % span).expect("in range");
        let Ok(lock) = File::create(dir.join(port.to_string())) else {
            continue;
        };
        if lock.try_lock().is_err() {
            continue; // another test process holds it
        }
        // A service of the machine (not a test) may listen there.
        if free(port) && free(port + BUS_OFFSET) {
            return Reserved { port, _lock: lock };
        }
    }
    panic!("no free port pair below the ephemeral range ({range:?})");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_ports_lie_below_the_ephemeral_range_and_are_never_handed_out_twice() {
        let low = ephemeral_low();
        let held: Vec<Reserved> = (0..50).map(|_| reserve()).collect();
        let mut ports: Vec<u16> = held.iter().map(|r| r.port).collect();
        for &p in &ports {
            assert!(p + BUS_OFFSET < low, "{p} (+{BUS_OFFSET}) reaches {low}");
        }
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 50, "a port was reserved twice");
        // Another process cannot take a held port's lock.
        let other = File::create(lock_dir().join(held[0].port.to_string())).unwrap();
        assert!(other.try_lock().is_err(), "a held lock was taken again");
    }
}
