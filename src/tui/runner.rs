//! The event loop: one inbox, `App::update`, commands spawned as tasks, and a
//! redraw only when something changed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::app::{App, Cmd, Msg, Signal};
use super::{CockpitBackend, CockpitExit, CockpitInput};
use crate::pipeline::RunControl;

/// The slow clock for elapsed time, ETA and throttled reloads.
const TICK: Duration = Duration::from_millis(250);
/// Messages handled before a frame is drawn, so a flood cannot starve the screen.
const MAX_DRAIN: usize = 1024;

/// Restores the terminal on every way out of `run`, errors included.
struct RestoreOnDrop;

impl Drop for RestoreOnDrop {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Runs the cockpit on the real terminal until the operator quits, a signal
/// arrives or the terminal goes away; a live run is first stopped at a batch
/// boundary.
pub async fn run(
    input: CockpitInput,
    backend: Arc<dyn CockpitBackend>,
) -> color_eyre::Result<CockpitExit> {
    let mut app = App::new(input);
    // try_init also chains a panic hook that restores the terminal before printing.
    let mut terminal = ratatui::try_init()?;
    let _restore = RestoreOnDrop;
    if let Ok(size) = terminal.size() {
        app.size = (size.width, size.height);
    }

    let (tx, mut rx) = mpsc::channel::<Msg>(1024);
    let mut tasks = JoinSet::new();
    tasks.spawn(read_terminal(tx.clone()));
    tasks.spawn(tick(tx.clone()));
    tasks.spawn(forward_signals(tx.clone()));
    let mut steer = Steering::default();
    let mut terminal_lost = false;

    app.update(Msg::Tick(Instant::now()));
    let first = app.init();
    execute(first, &backend, &tx, &mut steer, &mut tasks);

    loop {
        if app.take_dirty() && !terminal_lost {
            // A hung-up terminal fails to draw; keep going until the run has stopped.
            terminal_lost = terminal.draw(|frame| super::draw(frame, &app)).is_err();
        }
        if app.should_quit {
            break;
        }
        let Some(msg) = rx.recv().await else {
            break;
        };
        let cmds = app.update(msg);
        execute(cmds, &backend, &tx, &mut steer, &mut tasks);
        let mut drained = 0;
        while drained < MAX_DRAIN && !app.should_quit {
            let Ok(msg) = rx.try_recv() else { break };
            let cmds = app.update(msg);
            execute(cmds, &backend, &tx, &mut steer, &mut tasks);
            drained += 1;
        }
    }

    tasks.abort_all();
    Ok(CockpitExit {
        final_state: app.run.state.clone(),
        summary: app.run.summary.clone(),
        left_early: app.left_early.clone(),
        rollback_unfinished: match &app.rollback {
            Some(super::rollback::RollbackStage::Failed(why)) => Some(why.clone()),
            _ => None,
        },
    })
}

/// Handles on what runs in the background, for commands that steer it.
#[derive(Default)]
struct Steering {
    /// The live (or last) run.
    run: Option<RunControl>,
    /// Turns true to stop the rollback under way after its current step.
    rollback: Option<watch::Sender<bool>>,
}

fn execute(
    cmds: Vec<Cmd>,
    backend: &Arc<dyn CockpitBackend>,
    tx: &mpsc::Sender<Msg>,
    steering: &mut Steering,
    tasks: &mut JoinSet<()>,
) {
    for cmd in cmds {
        match cmd {
            Cmd::StartRun => {
                let handle = backend.start_run();
                steering.run = Some(handle.control);
                let tx = tx.clone();
                let mut events = handle.events;
                tasks.spawn(async move {
                    while let Some(event) = events.recv().await {
                        if tx.send(Msg::Run(event)).await.is_err() {
                            return;
                        }
                    }
                    let _ = tx.send(Msg::RunClosed).await;
                });
            }
            Cmd::Pause | Cmd::Resume | Cmd::Cancel | Cmd::Decide { .. } => {
                if let Some(control) = steering.run.as_ref() {
                    steer(control, &cmd);
                }
            }
            Cmd::LoadEvents => {
                let tx = tx.clone();
                let load = backend.load_events();
                tasks.spawn(async move {
                    let _ = tx.send(Msg::EventsLoaded(load.await)).await;
                });
            }
            Cmd::RunChecks { phase, run } => {
                let tx = tx.clone();
                let checks = backend.run_checks(phase, run);
                tasks.spawn(async move {
                    let result = checks.await;
                    let _ = tx.send(Msg::ChecksDone { phase, result }).await;
                });
            }
            Cmd::PlanRollback { to } => {
                let tx = tx.clone();
                let plan = backend.plan_rollback(to);
                tasks.spawn(async move {
                    let _ = tx.send(Msg::RollbackPlanned(plan.await)).await;
                });
            }
            Cmd::StartRollback(plan) => {
                let tx = tx.clone();
                let (stop, stopped) = watch::channel(false);
                steering.rollback = Some(stop);
                let mut updates = backend.start_rollback(plan, stopped);
                tasks.spawn(async move {
                    while let Some(update) = updates.recv().await {
                        if tx.send(Msg::Rollback(update)).await.is_err() {
                            return;
                        }
                    }
                    let _ = tx.send(Msg::RollbackClosed).await;
                });
            }
            Cmd::LoadQueue => {
                let tx = tx.clone();
                let load = backend.load_queue();
                tasks.spawn(async move {
                    let _ = tx.send(Msg::QueueLoaded(load.await)).await;
                });
            }
            Cmd::DecideAfterRun { id, decision } => {
                let tx = tx.clone();
                let decided = backend.decide_after_run(id, decision);
                tasks.spawn(async move {
                    let _ = tx.send(Msg::DecidedAfterRun(decided.await)).await;
                });
            }
            Cmd::StopRollback => {
                if let Some(stop) = steering.rollback.as_ref() {
                    stop.send_replace(true);
                }
            }
        }
    }
    // Reap finished loaders so the set does not grow for the life of the cockpit.
    while tasks.try_join_next().is_some() {}
}

/// Commands that go to the live run through its control handle.
fn steer(control: &RunControl, cmd: &Cmd) {
    match cmd {
        Cmd::Pause => control.pause(),
        Cmd::Resume => control.resume(),
        Cmd::Cancel => control.cancel(),
        Cmd::Decide { id, decision } => control.decide(id, *decision),
        _ => {}
    }
}

/// Keys and resizes; ends (and says so) when the terminal input ends or fails,
/// so a dropped pty cannot make the loop spin.
async fn read_terminal(tx: mpsc::Sender<Msg>) {
    let mut input = EventStream::new();
    while let Some(event) = input.next().await {
        let msg = match event {
            Ok(Event::Key(key)) if key.kind != KeyEventKind::Release => Msg::Key(key),
            Ok(Event::Resize(w, h)) => Msg::Resize(w, h),
            Ok(_) => continue,
            Err(_) => break,
        };
        if tx.send(msg).await.is_err() {
            return;
        }
    }
    let _ = tx.send(Msg::InputClosed).await;
}

async fn tick(tx: mpsc::Sender<Msg>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        if tx.send(Msg::Tick(Instant::now())).await.is_err() {
            return;
        }
    }
}

async fn forward_signals(tx: mpsc::Sender<Msg>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    loop {
        let which = tokio::select! {
            _ = hup.recv() => Signal::Hangup,
            _ = term.recv() => Signal::Terminate,
            _ = int.recv() => Signal::Interrupt,
        };
        if tx.send(Msg::Signal(which)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::Decision;

    #[test]
    fn a_decision_reaches_the_pipeline_through_run_control() {
        let (control, _commands, mut decisions) = RunControl::with_decisions();
        steer(
            &control,
            &Cmd::Decide {
                id: "not_null:ml_models.model_name".into(),
                decision: Decision::Accept,
            },
        );
        assert_eq!(
            decisions.try_recv().unwrap(),
            (
                "not_null:ml_models.model_name".to_string(),
                Decision::Accept
            )
        );
    }
}
