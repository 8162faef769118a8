//! The real binary in a pseudo-terminal: `demo` draws the cockpit, keys switch
//! views and pause the run, `q` + `y` quits with exit 0 and the terminal leaves
//! the alternate screen.

mod common;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

struct Session {
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl Session {
    fn start(home: &std::path::Path, args: &[&str], no_color: bool) -> Session {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: 30,
                cols: 100,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(common::bin());
        cmd.args(args);
        cmd.cwd(home);
        cmd.env("XDG_DATA_HOME", home.join("data"));
        cmd.env("XDG_STATE_HOME", home.join("state"));
        cmd.env("XDG_CONFIG_HOME", home.join("config"));
        cmd.env("TERM", "xterm-256color");
        if no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        let child = pty.slave.spawn_command(cmd).unwrap();
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().unwrap();
        let writer = pty.master.take_writer().unwrap();
        let parser = Arc::new(Mutex::new(vt100::Parser::new(30, 100, 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (p, r) = (parser.clone(), raw.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                p.lock().unwrap().process(&buf[..n]);
                r.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        // Keep the master alive as long as the session.
        std::mem::forget(pty.master);
        Session {
            parser,
            raw,
            writer,
            child,
        }
    }

    fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    fn wait_for(&self, what: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {what:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn press(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// The header's second line: state, rate, elapsed, progress.
    fn status_line(&self) -> String {
        self.screen().lines().nth(1).unwrap_or_default().to_string()
    }
}

fn progress_part(status: &str) -> String {
    // "… 42% of 13,650 rows": the share done, without the clock.
    status.split("ETA").nth(1).unwrap_or_default().to_string()
}

#[test]
fn demo_in_a_pty_switches_views_pauses_and_quits_cleanly() {
    let home = tempfile::tempdir().unwrap();
    let mut s = Session::start(
        home.path(),
        &["demo", "--rows", "3000", "--pace", "1500"],
        false,
    );
    let long = Duration::from_secs(90);
    s.wait_for("RUNNING", long);
    let screen = s.screen();
    assert!(screen.contains("AI research consolidation"), "{screen}");
    assert!(
        screen.contains("sqlite://legacy.db → sqlite://platform.db"),
        "{screen}"
    );
    s.wait_for("models → ml_models", long);

    for (key, marker) in [
        ("2", "Profile"),
        ("3", "Recommendations"),
        ("4", "Fields of"),
        ("5", "Validation"),
        ("6", "Test Run Execution"),
        ("7", "newest first"),
        ("1", "Throughput"),
    ] {
        s.press(key);
        s.wait_for(marker, Duration::from_secs(10));
    }

    // Pause: the state says so and the counts stop moving.
    s.press(" ");
    s.wait_for("PAUSED", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(600));
    let before = progress_part(&s.status_line());
    std::thread::sleep(Duration::from_millis(1500));
    let after = progress_part(&s.status_line());
    assert_eq!(before, after, "counts moved while paused");
    s.press(" ");
    s.wait_for("RUNNING", Duration::from_secs(20));

    // Quit asks while the run is live; `y` stops it at a batch boundary.
    s.press("q");
    s.wait_for("Quit?", Duration::from_secs(5));
    s.press("y");
    let start = Instant::now();
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "did not exit after q, y"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    std::thread::sleep(Duration::from_millis(200));
    let raw = s.raw.lock().unwrap().clone();
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.contains("\x1b[?1049h"),
        "never entered the alternate screen"
    );
    let left = text
        .rfind("\x1b[?1049l")
        .expect("left the alternate screen");
    assert!(left > text.rfind("\x1b[?1049h").unwrap());
    assert!(!s.parser.lock().unwrap().screen().alternate_screen());
}

#[test]
fn with_no_color_the_cockpit_draws_no_colour() {
    let home = tempfile::tempdir().unwrap();
    let mut s = Session::start(
        home.path(),
        &["demo", "--rows", "300", "--pace", "200"],
        true,
    );
    s.wait_for("RUNNING", Duration::from_secs(90));
    std::thread::sleep(Duration::from_millis(500));
    {
        let parser = s.parser.lock().unwrap();
        let screen = parser.screen();
        for row in 0..30 {
            for col in 0..100 {
                let cell = screen.cell(row, col).unwrap();
                assert_eq!(
                    cell.fgcolor(),
                    vt100::Color::Default,
                    "fg colour at {row},{col}"
                );
                assert_eq!(
                    cell.bgcolor(),
                    vt100::Color::Default,
                    "bg colour at {row},{col}"
                );
            }
        }
    }
    let raw = s.raw.lock().unwrap().clone();
    let text = String::from_utf8_lossy(&raw);
    // Only resets to the default colours may appear, never a colour.
    for code in [
        "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[34m", "\x1b[36m", "\x1b[38;", "\x1b[48;",
    ] {
        assert!(
            !text.contains(code),
            "colour escape {code:?} under NO_COLOR"
        );
    }
    s.press("q");
    s.wait_for("Quit?", Duration::from_secs(5));
    s.press("y");
    let start = Instant::now();
    while s.child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The demo's target, where `demo` keeps it under the data home.
fn demo_target(home: &std::path::Path) -> std::path::PathBuf {
    home.join("data/flightdeck/demo/ai-research/platform.db")
}

#[test]
fn demo_run_then_rollback_from_the_event_log_restores_the_target() {
    let home = tempfile::tempdir().unwrap();
    let mut s = Session::start(home.path(), &["demo", "--rows", "300"], false);
    let long = Duration::from_secs(120);
    // The demo goes at the audience's pace unless told otherwise.
    s.wait_for("rows/s (paced to 1,000)", long);
    s.wait_for("COMPLETED", long);
    let target = demo_target(home.path());
    assert!(target.exists(), "no demo target at {}", target.display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let written = rt
        .block_on(async { common::content_fingerprint(&common::open_sqlite(&target).await).await });
    assert!(!written.is_empty(), "the run wrote no user tables");

    s.press("7");
    s.wait_for("newest first", Duration::from_secs(10));
    s.press("R");
    let screen = s.wait_for("Roll back the latest run?", Duration::from_secs(30));
    assert!(screen.contains("tables dropped:"), "{screen}");
    assert!(screen.contains("DROP TABLE"), "{screen}");
    s.press("y");
    s.wait_for("Rolled back:", long);
    // The reloaded log shows the rollback's own events.
    s.press("\x1b");
    s.wait_for("rollback_finished", Duration::from_secs(10));

    s.press("q");
    let start = Instant::now();
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "did not exit after q; screen:\n{}",
            s.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");

    // The demo target started empty: only flightdeck_ tables may remain.
    let (left, own) = rt.block_on(async {
        let db = common::open_sqlite(&target).await;
        (
            common::content_fingerprint(&db).await,
            db.list_tables().await.unwrap(),
        )
    });
    assert!(left.is_empty(), "user tables left after rollback: {left:?}");
    assert!(own.iter().all(|t| t.starts_with("flightdeck_")), "{own:?}");
}

#[test]
fn accepting_a_recommendation_in_the_cockpit_reaches_the_pipeline() {
    let home = tempfile::tempdir().unwrap();
    let mut s = Session::start(
        home.path(),
        &["demo", "--rows", "6000", "--pace", "600"],
        false,
    );
    s.wait_for("RUNNING", Duration::from_secs(90));
    s.press("3");
    // Wait for a pending recommendation at 0.9 or more, then start at the top.
    let start = Instant::now();
    while !s.screen().lines().any(|l| {
        l.contains(" pending ")
            && l.split_whitespace()
                .any(|w| w.len() == 4 && w.parse::<f64>().is_ok_and(|c| c >= 0.9))
    }) {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no pending recommendation at 0.9:\n{}",
            s.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    s.press("\x1b[5~");
    s.press("\x1b[5~");
    std::thread::sleep(Duration::from_millis(200));
    // Walk down the queue to a pending recommendation confident enough for the
    // sample's `[evolution] min_confidence = 0.9`, and accept it from its popup.
    let mut accepted = false;
    for _ in 0..20 {
        s.press("\r");
        let popup = s.wait_for("esc closes", Duration::from_secs(5));
        let header = popup
            .lines()
            .find(|l| l.contains("confidence "))
            .unwrap_or_default()
            .to_string();
        let confidence: f64 = header
            .split("confidence ")
            .nth(1)
            .and_then(|c| c.get(..4))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0.0);
        if header.contains(" pending ") && confidence >= 0.9 {
            s.press("a");
            s.wait_for("decided by operator", Duration::from_secs(5));
            accepted = true;
            break;
        }
        s.press("\x1b");
        std::thread::sleep(Duration::from_millis(100));
        s.press("j");
    }
    assert!(
        accepted,
        "no pending recommendation at 0.9:\n{}",
        s.screen()
    );
    // The pipeline applies it between batches and its queue says so; the popup
    // follows the queue.
    let start = Instant::now();
    loop {
        let screen = s.screen();
        if screen
            .lines()
            .any(|l| l.contains(" applied ") && l.contains("decided by operator"))
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "not applied:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    s.press("\x1b");
    // Apart, or the terminal reads them as alt-q.
    std::thread::sleep(Duration::from_millis(300));
    s.press("q");
    std::thread::sleep(Duration::from_millis(300));
    s.press("y");
    let start = Instant::now();
    while s.child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(30), "did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}
