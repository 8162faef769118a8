//! Key-to-redraw latency of the cockpit while a large SQLite run is going:
//! the real binary in a pseudo-terminal, views switched back and forth, time
//! from the key press until the new view is on the screen.
//!
//!   cargo bench --bench key_latency            (1,000,000 models rows)
//!   FLIGHTDECK_BENCH_ROWS=200000 cargo bench --bench key_latency

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

fn main() {
    let rows: u64 = std::env::var("FLIGHTDECK_BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);
    let bin = env!("CARGO_BIN_EXE_flightdeck");
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let status = std::process::Command::new(bin)
        .args(["sample", "ai-research", "--into"])
        .arg(dir.path())
        .args(["--rows", &rows.to_string()])
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .output()
        .unwrap();
    assert!(status.status.success());
    eprintln!("generated {rows} models rows in {:.1?}", t.elapsed());

    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(bin);
    cmd.arg("run");
    cmd.arg(dir.path().join("project.toml"));
    cmd.env("XDG_STATE_HOME", dir.path().join("state"));
    cmd.env("XDG_CONFIG_HOME", dir.path().join("config"));
    cmd.env("TERM", "xterm-256color");
    let mut child = pty.slave.spawn_command(cmd).unwrap();
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().unwrap();
    let mut writer = pty.master.take_writer().unwrap();
    let parser = Arc::new(Mutex::new(vt100::Parser::new(40, 120, 0)));
    let p = parser.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            p.lock().unwrap().process(&buf[..n]);
        }
    });
    let screen = || parser.lock().unwrap().screen().contents();
    let wait = |what: &str, limit: Duration| -> Option<Duration> {
        let s = Instant::now();
        while s.elapsed() < limit {
            if screen().contains(what) {
                return Some(s.elapsed());
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        None
    };
    wait("RUNNING", Duration::from_secs(60)).expect("the run did not start");
    // Let the load reach full speed before measuring.
    std::thread::sleep(Duration::from_secs(3));

    let mut samples = Vec::new();
    for i in 0..60 {
        let (key, marker) = if i % 2 == 0 {
            ("7", "newest first")
        } else {
            ("1", "Throughput")
        };
        let start = Instant::now();
        writer.write_all(key.as_bytes()).unwrap();
        writer.flush().unwrap();
        let s = Instant::now();
        while !screen().contains(marker) {
            assert!(
                s.elapsed() < Duration::from_secs(5),
                "view {key} never drew"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        samples.push(start.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    let still_running = screen().contains("RUNNING");
    writer.write_all(b"q").unwrap();
    writer.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    writer.write_all(b"y").unwrap();
    writer.flush().unwrap();
    let _ = child.wait();

    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "key-to-redraw over {} presses during a {rows}-row run (run still live at the end: {still_running}): median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        samples.len(),
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() * 95 / 100]),
        ms(*samples.last().unwrap())
    );
}
