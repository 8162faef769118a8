//! Frame render time of each cockpit view at 200x60 with a busy run, measured
//! with std::time: prints the median µs per frame (target ≤ 2 ms).

#[path = "../examples/fake_cockpit/data.rs"]
mod data;

use std::time::{Duration, Instant};

use flightdeck::eventlog::EventRecord;
use flightdeck::pipeline::{RunEvent, SampleRow, TableProgress};
use flightdeck::tui::{Action, App, Keymap, Msg, Theme, View};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const FRAMES: usize = 500;

fn busy_app() -> App {
    let mut app = App::new(data::input(Theme::default(), Keymap::default(), false));
    let t0 = Instant::now();
    app.update(Msg::Tick(t0));
    app.act(Action::StartRun);
    app.update(Msg::Run(RunEvent::Started {
        run_id: uuid::Uuid::nil(),
        tables: data::plans(1),
        resumed: Some("cancelled".into()),
    }));
    for i in 0..600u64 {
        let table = (i / 150) as usize;
        app.update(Msg::Run(RunEvent::Progress {
            table,
            progress: TableProgress {
                read: i * 100,
                written: i * 99,
                quarantined: i,
            },
            batch_size: 2000,
            rows_per_s: 5_000.0 + (i % 13) as f64 * 700.0,
            sample: Some(SampleRow {
                before: (0..8)
                    .map(|c| (format!("col_{c}"), format!("value {i} {c}")))
                    .collect(),
                after: (0..8)
                    .map(|c| (format!("target_{c}"), format!("mapped {i} {c}")))
                    .collect(),
                quarantined: None,
            }),
        }));
    }
    let records = (1..=5_000)
        .map(|id| EventRecord {
            id,
            run_id: uuid::Uuid::nil(),
            at: chrono::Utc::now(),
            kind: "batch_committed".into(),
            table: Some("ml_models".into()),
            summary: format!(
                "batch {id} of ml_models: keys {}..{}",
                id * 2000,
                id * 2000 + 1999
            ),
            detail: serde_json::json!({}),
            inverse: vec![format!("DELETE FROM ml_models WHERE id >= {id}")],
            inverse_elided: 0,
        })
        .collect();
    app.update(Msg::EventsLoaded(Ok(records)));
    app.update(Msg::Tick(t0 + Duration::from_secs(95)));
    app
}

fn main() {
    let mut app = busy_app();
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("test backend");
    let views = [
        (View::Overview, Action::ViewOverview),
        (View::Mapping, Action::ViewMapping),
        (View::Timeline, Action::ViewTimeline),
        (View::EventLog, Action::ViewEventLog),
    ];
    for (view, action) in views {
        app.act(action);
        assert_eq!(app.view, view);
        let mut samples = Vec::with_capacity(FRAMES);
        for _ in 0..FRAMES {
            let start = Instant::now();
            terminal
                .draw(|frame| flightdeck::tui::draw(frame, &app))
                .expect("draw");
            samples.push(start.elapsed());
        }
        samples.sort();
        let median = samples[FRAMES / 2];
        let p99 = samples[FRAMES * 99 / 100];
        println!(
            "render {:<10} 200x60: median {:>6.1} µs/frame, p99 {:>6.1} µs ({FRAMES} frames)",
            view.title(),
            median.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
    }
}
