//! Hardening of the payShield simulator and client against hostile or broken
//! peers: idle and slow connections, connection floods, descriptor
//! exhaustion, and hosts that accept and close at once (reconnect storms).
//!
//! The tests take one lock: some read the process's own memory and a child's
//! CPU time, which other tests running alongside would disturb. Every loop is
//! bounded in count and time; only 127.0.0.1 with port 0 is used.

use paycrypto::payshield::{KeyTable, PayShieldBackend, PayShieldConfig};
use paycrypto::server::payshield::{serve_until, start, SimConfig};
use paycrypto::ErrorKind;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

// ------------------------------------------------------------------ helpers

/// Resident set size of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

/// The soft limit on open files of this process.
fn open_files_soft_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

/// How many loopback connections this process can hold (two descriptors
/// each, one per side), at most `want`.
fn connection_budget(want: usize) -> usize {
    let soft = usize::try_from(open_files_soft_limit()).unwrap_or(1024);
    want.min(soft.saturating_sub(200) / 2)
}

/// A frame: 2-byte length, then the parts.
fn frame(parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = u16::try_from(len)
        .expect("short frame")
        .to_be_bytes()
        .to_vec();
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

/// Sends one B2 echo and reads its answer: the connection is accepted and
/// served.
async fn echo(sock: &mut TcpStream, header: &[u8; 4]) -> std::io::Result<()> {
    sock.write_all(&frame(&[header, b"B20004PING"])).await?;
    let want = frame(&[header, b"B300PING"]);
    let mut got = vec![0u8; want.len()];
    tokio::time::timeout(Duration::from_secs(5), sock.read_exact(&mut got))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no echo"))??;
    if got != want {
        return Err(std::io::Error::other("wrong echo"));
    }
    Ok(())
}

/// Opens `n` connections, each served once (one echo), then left idle.
async fn open_served(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let header = format!("{:04}", i % 10_000);
        let header: [u8; 4] = header.as_bytes().try_into().expect("4 digits");
        echo(&mut s, &header).await.expect("served");
        out.push(s);
    }
    out
}

/// Binds `addr` again (the previous listener closes asynchronously).
async fn rebind(addr: SocketAddr) -> TcpListener {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return l,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("cannot bind {addr} again: {e}"),
        }
    }
}

// ------------------------------------------------------------------ simulator: memory

// 1,000 connections, each served once and then idle: what they cost while
// open, and that the memory comes back when they close. (The issue saw about
// 26 KiB per idle connection, three 16 KiB buffers preallocated each.)
#[test]
fn idle_connections_cost_little_and_memory_comes_back() {
    let _g = serial();
    rt().block_on(async {
        let n = connection_budget(1000);
        assert!(n >= 100, "too few descriptors for this test");
        let sim = start(SimConfig::default()).await.expect("simulator");
        // Warm up allocator arenas and the runtime, then measure.
        drop(open_served(sim.addr(), 50).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = rss_kib();
        let conns = open_served(sim.addr(), n).await;
        assert_eq!(sim.connections(), n);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let during = rss_kib();
        drop(conns);
        let deadline = Instant::now() + Duration::from_secs(5);
        while sim.connections() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(sim.connections(), 0, "closed connections still served");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let after = rss_kib();
        let per_conn = during.saturating_sub(before) * 1024 / n as u64;
        eprintln!(
            "{n} connections: RSS before {before} KiB, during {during} KiB \
             ({per_conn} B per connection, both sides), after {after} KiB"
        );
        assert!(
            per_conn <= 8 * 1024,
            "{per_conn} bytes per idle connection (both sides)"
        );
        assert!(
            after <= before + 8 * 1024,
            "RSS did not come back: before {before} KiB, after {after} KiB"
        );
    });
}

// ------------------------------------------------------------------ simulator: time

/// Seconds until the peer closes `sock` (reads return 0 or fail), reading
/// and discarding whatever it sends; `None` if still open after `limit`.
async fn closed_within(sock: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        let left = limit.checked_sub(start.elapsed())?;
        match tokio::time::timeout(left, sock.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

fn quick(idle: u64, frame: u64, max: usize) -> SimConfig {
    SimConfig {
        idle_timeout: Duration::from_secs(idle),
        frame_timeout: Duration::from_secs(frame),
        max_connections: max,
        ..SimConfig::default()
    }
}

// A connection that sends nothing is closed after the idle timeout; one
// that starts a frame and stalls, or drips it a byte at a time, is closed
// after the frame timeout; a working connection is left alone.
#[test]
fn idle_stalled_and_dripping_connections_are_closed() {
    let _g = serial();
    rt().block_on(async {
        let sim = start(quick(1, 1, 64)).await.expect("simulator");
        let addr = sim.addr();
        let limit = Duration::from_secs(4);

        let idle = tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            closed_within(&mut s, limit).await
        });
        let stalled = tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            // Length 16, then 4 of the 16 bytes, then nothing.
            s.write_all(&[0, 16, b'0', b'0', b'0', b'1'])
                .await
                .expect("send");
            closed_within(&mut s, limit).await
        });
        let dripping = tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            let f = frame(&[b"0001", b"B20020", &[b'x'; 32]]);
            let start = Instant::now();
            // A byte every 100 ms: the frame would take 4 s, and no gap is
            // anywhere near the idle timeout.
            for b in &f {
                if s.write_all(&[*b]).await.is_err() {
                    break;
                }
                let mut probe = [0u8; 16];
                let read = tokio::time::timeout(Duration::from_millis(100), s.read(&mut probe));
                if let Ok(Ok(0) | Err(_)) = read.await {
                    return Some(start.elapsed());
                }
                if start.elapsed() > limit {
                    return None;
                }
            }
            closed_within(&mut s, limit.saturating_sub(start.elapsed()))
                .await
                .map(|_| start.elapsed())
        });
        let working = tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            // An echo every 300 ms for 2.4 s: never idle for a second.
            for i in 0..8u16 {
                let header = format!("{i:04}");
                let header: [u8; 4] = header.as_bytes().try_into().expect("4 digits");
                echo(&mut s, &header)
                    .await
                    .expect("a working connection is served");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
        let (idle, stalled, dripping) = (
            idle.await.expect("no panic"),
            stalled.await.expect("no panic"),
            dripping.await.expect("no panic"),
        );
        working.await.expect("working connection served throughout");
        eprintln!("closed after: idle {idle:?}, stalled {stalled:?}, dripping {dripping:?}");
        for (what, t) in [("idle", idle), ("stalled", stalled), ("dripping", dripping)] {
            let t = t.unwrap_or_else(|| panic!("{what} connection still open after {limit:?}"));
            assert!(
                t >= Duration::from_millis(800),
                "{what} closed too soon: {t:?}"
            );
        }
    });
}

// A peer that sends requests but never reads the responses: once the
// socket buffers are full the simulator's write cannot finish, and the
// frame timeout closes the connection instead of holding it forever.
#[test]
fn a_peer_that_never_reads_is_closed() {
    let _g = serial();
    rt().block_on(async {
        let sim = start(quick(30, 1, 64)).await.expect("simulator");
        let mut s = TcpStream::connect(sim.addr()).await.expect("connect");
        let data = vec![b'y'; 8000];
        let one = frame(&[b"0001", b"B21F40", &data]);
        let start = Instant::now();
        let mut sent = 0usize;
        // Write until the connection breaks (bounded: 40 s of data at most
        // 64 MiB).
        let broke = loop {
            if start.elapsed() > Duration::from_secs(8) || sent > 64 << 20 {
                break false;
            }
            match tokio::time::timeout(Duration::from_millis(500), s.write_all(&one)).await {
                Ok(Ok(())) => sent += one.len(),
                Ok(Err(_)) => break true,
                // Our own write is blocked: the simulator stopped reading.
                Err(_) => {
                    if sim.connections() == 0 {
                        break true;
                    }
                }
            }
        };
        eprintln!(
            "peer that never reads: closed {broke} after {:?}, {sent} bytes sent",
            start.elapsed()
        );
        assert!(broke, "still open after {:?}", start.elapsed());
        assert_eq!(sim.connections(), 0);
    });
}

// ------------------------------------------------------------------ simulator: connection limit

// Attackers fill every place. While they are new (less than a second old)
// a newcomer is closed at once; once they idle, a working client takes
// their places and is served, and the simulator never serves more than its
// limit. When every place is busy with a half-sent frame, a newcomer is
// closed at once too, until the frame timeout frees the places.
#[test]
fn connection_limit_holds_and_a_working_client_is_served() {
    let _g = serial();
    rt().block_on(async {
        let max = 20;
        let sim = start(quick(30, 1, max)).await.expect("simulator");
        let addr = sim.addr();
        let mut attackers = Vec::new();
        for _ in 0..max {
            attackers.push(TcpStream::connect(addr).await.expect("connect"));
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while sim.connections() < max && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(sim.connections(), max);
        // Over the limit, nobody idle long enough: closed at once.
        let mut late = TcpStream::connect(addr).await.expect("connect");
        let t = closed_within(&mut late, Duration::from_millis(800)).await;
        assert!(t.is_some(), "a connection over the limit was kept");
        assert_eq!(sim.connections(), max);

        // The attackers idle; a working client (2 connections) is served.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let mut cfg = PayShieldConfig::new(addr.to_string());
        cfg.request_timeout = Duration::from_secs(2);
        let ps = PayShieldBackend::connect(cfg, KeyTable::new())
            .await
            .expect("connect over a full simulator");
        for _ in 0..5 {
            ps.diagnostics()
                .await
                .expect("served while attackers hold places");
        }
        assert!(sim.connections() <= max, "{} > {max}", sim.connections());
        let mut evicted = 0;
        for a in &mut attackers {
            if closed_within(a, Duration::from_millis(50)).await.is_some() {
                evicted += 1;
            }
        }
        eprintln!("limit {max}: {evicted} idle attackers evicted for the working client");
        assert!(evicted >= 1, "nobody was evicted");
        drop(ps);
        drop(attackers);

        // Every place busy: a frame started and never finished.
        let deadline = Instant::now() + Duration::from_secs(3);
        while sim.connections() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut busy = Vec::new();
        for _ in 0..max {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            s.write_all(&[0, 16, b'0']).await.expect("send");
            busy.push(s);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut late = TcpStream::connect(addr).await.expect("connect");
        assert!(
            closed_within(&mut late, Duration::from_millis(500))
                .await
                .is_some(),
            "a connection over the limit was kept while all were busy"
        );
        // The frame timeout (1 s) frees the places; then a client is served.
        let start = Instant::now();
        let mut s = loop {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            if echo(&mut s, b"0042").await.is_ok() {
                break s;
            }
            assert!(start.elapsed() < Duration::from_secs(4), "never served");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        echo(&mut s, b"0043").await.expect("still served");
        eprintln!("served {:?} after every place was busy", start.elapsed());
        drop(busy);
    });
}

// ------------------------------------------------------------------ simulator: descriptors

/// utime + stime of process `pid`, in clock ticks (USER_HZ, 100 on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command name: state is field 3, utime 14, stime 15.
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

/// The simulator binary under `prlimit --nofile=40:40`, killed on drop.
struct Limited {
    child: std::process::Child,
    addr: String,
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_limited(extra: &[&str]) -> Option<Limited> {
    let have = Command::new("prlimit")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !have {
        eprintln!("prlimit (util-linux) is not installed: test skipped");
        return None;
    }
    let mut child = Command::new("prlimit")
        .arg("--nofile=40:40")
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_paycrypto"))
        .args(["serve", "payshield", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the simulator");
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    out.read_line(&mut line).expect("first line");
    let addr = line
        .trim_end()
        .strip_prefix("listening on tcp://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Some(Limited { child, addr })
}

/// One B2 echo over a blocking socket; true when answered within `within`.
fn blocking_echo(addr: &str, within: Duration) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(within));
    if s.write_all(&frame(&[b"0001", b"B20004PING"])).is_err() {
        return false;
    }
    let want = frame(&[b"0001", b"B300PING"]);
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got).is_ok() && got == want
}

// Out of file descriptors, `accept` fails at once and keeps failing while
// connections wait in the backlog: the simulator must back off instead of
// spinning, and serve again once descriptors are free.
#[test]
fn accept_errors_back_off_instead_of_spinning() {
    let _g = serial();
    let Some(sim) = spawn_limited(&[]) else {
        return;
    };
    let pid = sim.child.id();
    assert!(blocking_echo(&sim.addr, Duration::from_secs(5)), "served");
    // More connections than the simulator has descriptors (40 in all).
    let held: Vec<std::net::TcpStream> = (0..80)
        .filter_map(|_| std::net::TcpStream::connect(&sim.addr).ok())
        .collect();
    assert!(held.len() > 45, "only {} connections opened", held.len());
    std::thread::sleep(Duration::from_millis(500));
    let t0 = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(pid).saturating_sub(t0);
    eprintln!("CPU time in 2 s out of descriptors: {used} ticks of 10 ms");
    drop(held);
    let start = Instant::now();
    assert!(
        blocking_echo(&sim.addr, Duration::from_secs(5)),
        "not served after the descriptors came back"
    );
    eprintln!("served again after {:?}", start.elapsed());
    // A spinning accept loop burns 100+ ticks in 2 s (a whole core); with
    // the backoff it is a handful.
    assert!(used < 30, "{used} ticks of CPU in 2 s: accept is spinning");
}

// ------------------------------------------------------------------ client: reconnect storm

// The payShield goes bad (its port now accepts and closes at once) and then
// comes back. The client must not open connections as fast as it can: the
// issue counted 124,632 in 5 s from one process. Calls fail fast with
// Transient meanwhile, and service resumes within the backoff bound.
#[test]
fn reconnect_storm_is_bounded_and_the_host_comes_back() {
    let _g = serial();
    rt().block_on(async {
        let sim = start(SimConfig::default()).await.expect("simulator");
        let addr = sim.addr();
        let cfg = PayShieldConfig::new(addr.to_string());
        let backoff_max = cfg.backoff_max;
        let ps = PayShieldBackend::connect(cfg, KeyTable::new())
            .await
            .expect("connect");
        ps.diagnostics().await.expect("healthy at first");
        drop(sim);

        let listener = rebind(addr).await;
        let accepts = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&accepts);
        let bad = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::Relaxed);
                drop(sock);
            }
        });
        let start = Instant::now();
        let (mut calls, mut slowest) = (0u32, Duration::ZERO);
        while start.elapsed() < Duration::from_secs(3) {
            let t = Instant::now();
            match ps.diagnostics().await {
                Ok(_) => panic!("a host that closes every connection answered"),
                Err(e) => assert_eq!(e.kind(), ErrorKind::Transient, "{e}"),
            }
            slowest = slowest.max(t.elapsed());
            calls += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let n = accepts.load(Ordering::Relaxed);
        bad.abort();
        let _ = bad.await;
        eprintln!("bad host: {n} connections accepted in 3 s; {calls} calls, slowest {slowest:?}");
        assert!(n < 50, "{n} connections in 3 s: reconnect storm");
        assert!(slowest < Duration::from_millis(500), "slowest {slowest:?}");

        let listener = rebind(addr).await;
        let (stop, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(serve_until(listener, SimConfig::default(), rx));
        let back = Instant::now();
        loop {
            if ps.diagnostics().await.is_ok() {
                break;
            }
            assert!(
                back.elapsed() < backoff_max + Duration::from_millis(1500),
                "not served {:?} after the host came back",
                back.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        eprintln!("served again {:?} after the host came back", back.elapsed());
        drop(stop);
    });
}

// A host that answers one request per connection and then closes it. Each
// connection carried a response, so the client reconnects promptly (calls
// keep succeeding), but never faster than one connection per `backoff_min`
// per pooled connection.
#[test]
fn one_answer_per_connection_reconnects_promptly_but_bounded() {
    let _g = serial();
    rt().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepts = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&accepts);
        let host = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    // One NC request: [len][4-char header]NC.
                    let mut req = [0u8; 8];
                    let read = sock.read_exact(&mut req);
                    if !matches!(
                        tokio::time::timeout(Duration::from_secs(2), read).await,
                        Ok(Ok(_))
                    ) {
                        return;
                    }
                    let header = &req[2..6];
                    let answer = frame(&[header, b"ND00", b"7D22274C5745C5A1", b"1500-0023"]);
                    let _ = sock.write_all(&answer).await;
                });
            }
        });
        let cfg = PayShieldConfig::new(addr.to_string());
        let (backoff_min, slots) = (cfg.backoff_min, cfg.connections);
        let opened = Instant::now();
        let ps = PayShieldBackend::connect(cfg, KeyTable::new())
            .await
            .expect("connect");
        let run = Duration::from_millis(1500);
        let start = Instant::now();
        let (mut ok, mut failed) = (0u32, 0u32);
        while start.elapsed() < run {
            match ps.diagnostics().await {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
                    failed += 1;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
        let n = accepts.load(Ordering::Relaxed);
        let window = opened.elapsed();
        host.abort();
        // One attempt per backoff_min per slot, from the pool's start.
        let bound = slots as u128 * (window.as_millis() / backoff_min.as_millis() + 2);
        eprintln!(
            "one answer per connection: {n} connections in {window:?} (bound {bound}); \
             {ok} answered, {failed} failed fast"
        );
        assert!((n as u128) <= bound, "{n} connections in {window:?}");
        assert!(
            ok >= 20,
            "only {ok} answers: reconnects after an answer are not prompt"
        );
    });
}

// ------------------------------------------------------------------ CLI flags

fn paycrypto(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_paycrypto"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run paycrypto")
}

// The limits are flags with their defaults in --help; values out of range
// are usage errors (exit 2) naming the flag; and they reach the simulator.
#[test]
fn serve_payshield_limit_flags() {
    let _g = serial();
    let help = paycrypto(&["serve", "payshield", "--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success());
    for needle in [
        "--idle-timeout <SECS>",
        "[default: 300]",
        "--frame-timeout <SECS>",
        "[default: 10]",
        "--max-connections <N>",
        "[default: 1024]",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    for (flag, value) in [
        ("--idle-timeout", "0"),
        ("--frame-timeout", "0"),
        ("--max-connections", "0"),
        ("--idle-timeout", "soon"),
    ] {
        let out = paycrypto(&["serve", "payshield", "--listen", "127.0.0.1:0", flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(flag),
            "{flag} {value}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // --idle-timeout 1 on the real binary: an idle connection closes.
    let mut child = Command::new(env!("CARGO_BIN_EXE_paycrypto"))
        .args([
            "serve",
            "payshield",
            "--listen",
            "127.0.0.1:0",
            "--idle-timeout",
            "1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let addr = line
        .trim_end()
        .trim_start_matches("listening on tcp://")
        .to_string();
    let closed = std::net::TcpStream::connect(&addr).ok().and_then(|mut s| {
        let _ = s.set_read_timeout(Some(Duration::from_secs(4)));
        let start = Instant::now();
        let mut b = [0u8; 8];
        matches!(s.read(&mut b), Ok(0)).then(|| start.elapsed())
    });
    let _ = child.kill();
    let _ = child.wait();
    let t = closed.expect("idle connection closed by --idle-timeout 1");
    assert!(t >= Duration::from_millis(800), "closed after {t:?}");
}
