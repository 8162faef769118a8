//! The cockpit's state and its one `update` function: messages in, commands out.
//! Nothing here touches the terminal, the clock or the database.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use uuid::Uuid;

use super::checks::CheckList;
use super::event_list::EventList;
use super::keymap::{Action, Keymap};
use super::profile_view::{ProfileFocus, ProfileView};
use super::recs_view::RecsView;
use super::rollback::RollbackStage;
use super::run_model::RunModel;
use super::theme::Theme;
use super::{CockpitInput, RollbackUpdate, TableView};
use crate::eventlog::EventRecord;
use crate::eventlog::rollback::RollbackPlan;
use crate::pipeline::{RunEvent, RunState};
use crate::recommend::Decision;
use crate::timeline::Plan;
use crate::validate::{CheckResult, Phase};

/// How long `q`/SIGTERM waits for the pipeline to stop before leaving anyway.
pub const STOP_GRACE: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Overview,
    Profile,
    Recommendations,
    Mapping,
    Validation,
    Timeline,
    EventLog,
}

impl View {
    pub const ALL: [View; 7] = [
        View::Overview,
        View::Profile,
        View::Recommendations,
        View::Mapping,
        View::Validation,
        View::Timeline,
        View::EventLog,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Overview => "Overview",
            View::Profile => "Profile",
            View::Recommendations => "Recommendations",
            View::Mapping => "Mapping",
            View::Validation => "Validation",
            View::Timeline => "Timeline",
            View::EventLog => "Event log",
        }
    }

    pub fn short_title(self) -> &'static str {
        match self {
            View::Recommendations => "Recs",
            View::Validation => "Checks",
            View::EventLog => "Events",
            other => other.title(),
        }
    }

    fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }

    fn has_list(self) -> bool {
        matches!(self, View::Mapping | View::Validation | View::EventLog)
    }

    /// Views where j/k and PgUp/PgDn move something.
    fn moves(self) -> bool {
        self.has_list() || matches!(self, View::Profile | View::Recommendations)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Hangup,
    Terminate,
    Interrupt,
}

/// Everything that can happen to the cockpit.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Resize(u16, u16),
    /// The slow clock; carries the time so that `update` never reads one.
    Tick(Instant),
    Run(RunEvent),
    /// The run's event channel closed.
    RunClosed,
    EventsLoaded(Result<Vec<EventRecord>, String>),
    ChecksDone {
        phase: Phase,
        result: Result<Vec<CheckResult>, String>,
    },
    RollbackPlanned(Result<RollbackPlan, String>),
    Rollback(RollbackUpdate),
    /// The rollback's channel closed.
    RollbackClosed,
    /// The latest completed run's queue, read when the cockpit opens without
    /// starting a run; `None` when the target holds no completed run.
    QueueLoaded(Result<crate::evolve::after::CompletedQueue, String>),
    /// A decision taken after the run completed, recorded and (if accepted)
    /// applied; the queue afterwards.
    DecidedAfterRun(Result<crate::evolve::after::Decided, String>),
    Signal(Signal),
    /// The terminal input ended (the pty went away).
    InputClosed,
}

/// Side effects `update` asks the loop to perform.
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    StartRun,
    Pause,
    Resume,
    Cancel,
    LoadEvents,
    /// The latest completed run's recommendations (`Msg::QueueLoaded`).
    LoadQueue,
    /// Validation checks; post-migration ones need the run they check.
    RunChecks {
        phase: Phase,
        run: Option<Uuid>,
    },
    PlanRollback {
        to: Option<i64>,
    },
    StartRollback(RollbackPlan),
    /// Stop the rollback under way after the step it is on.
    StopRollback,
    /// The operator's answer to a recommendation, for `RunControl::decide`.
    Decide {
        id: String,
        decision: Decision,
    },
    /// The same once the run has completed: recorded and applied at once,
    /// under the target lock, in the run's name.
    DecideAfterRun {
        id: String,
        decision: Decision,
    },
}

/// Popups and prompts, topmost last; the top one sees keys first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layer {
    Help {
        scroll: usize,
    },
    ConfirmQuit,
    Filter,
    EventDetail {
        id: i64,
        scroll: usize,
    },
    /// One check's message, SQL and example rows.
    CheckDetail {
        phase: Phase,
        index: usize,
        scroll: usize,
    },
    /// Plan, confirmation, progress and outcome of a rollback (`App::rollback`).
    Rollback {
        scroll: usize,
    },
    /// One recommendation's evidence, benefit, cost and DDL.
    Recommendation {
        id: String,
        scroll: usize,
    },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MappingState {
    pub selected: usize,
    pub field_scroll: usize,
    pub filter: String,
}

pub struct App {
    pub project_name: String,
    pub source_display: String,
    pub target_display: String,
    pub tables: Vec<TableView>,
    pub plan: Plan,
    pub read_only: bool,
    pub theme: Theme,
    pub keymap: Keymap,
    pub autostart: bool,
    /// `--pace`: the rate shown is the pace, not the machine's.
    pub pace: Option<f64>,

    pub view: View,
    pub layers: Vec<Layer>,
    pub run: RunModel,
    pub events: EventList,
    pub mapping: MappingState,
    pub profile: ProfileView,
    pub recs: RecsView,
    pub checks: CheckList,
    /// The rollback under way or just ended; shown by `Layer::Rollback`.
    pub rollback: Option<RollbackStage>,
    /// The run the post-migration checks look at.
    pub last_run_id: Option<Uuid>,
    /// The day the timeline calls today.
    pub today: NaiveDate,
    /// Latest time from a tick.
    pub now: Option<Instant>,
    pub size: (u16, u16),
    /// One line for the footer: a refusal, a hint.
    pub notice: Option<String>,
    /// Quit was confirmed (or a signal came) and we wait for the run to stop.
    pub stopping_since: Option<Instant>,
    pub stopping: bool,
    /// Left before the run or rollback stopped (a second stop request, or
    /// the grace ran out): what was under way and is not committed.
    pub left_early: Option<String>,
    pub should_quit: bool,
    pub dirty: bool,
    last_drawn_second: Option<u64>,
}

impl App {
    pub fn new(input: CockpitInput) -> App {
        App {
            project_name: input.project_name,
            source_display: input.source_display,
            target_display: input.target_display,
            tables: input.tables,
            plan: input.timeline,
            read_only: input.read_only,
            theme: input.theme,
            keymap: input.keymap,
            autostart: input.autostart,
            pace: input.pace.filter(|p| *p > 0.0),
            view: View::Overview,
            layers: Vec::new(),
            run: RunModel::default(),
            events: EventList::default(),
            mapping: MappingState::default(),
            profile: ProfileView::default(),
            recs: RecsView::default(),
            checks: CheckList::default(),
            rollback: None,
            last_run_id: None,
            today: chrono::Local::now().date_naive(),
            now: None,
            size: (80, 24),
            notice: None,
            stopping_since: None,
            stopping: false,
            left_early: None,
            should_quit: false,
            dirty: true,
            last_drawn_second: None,
        }
    }

    /// Commands to run once the loop is up: the pre-migration checks, and the
    /// run itself for the demo.
    pub fn init(&mut self) -> Vec<Cmd> {
        let mut cmds = self.begin_checks(Phase::Pre);
        if self.autostart {
            cmds.extend(self.act(Action::StartRun));
        }
        if !self.run.requested {
            // A completed run's undecided recommendations, to decide now.
            cmds.push(Cmd::LoadQueue);
        }
        cmds
    }

    fn begin_checks(&mut self, phase: Phase) -> Vec<Cmd> {
        if !self.checks.begin(phase) {
            return Vec::new();
        }
        let run = match phase {
            Phase::Pre => None,
            Phase::Post => self.last_run_id,
        };
        vec![Cmd::RunChecks { phase, run }]
    }

    /// Rows a PgUp/PgDn moves, from the last known terminal height.
    pub fn page(&self) -> usize {
        usize::from(self.size.1.saturating_sub(10)).max(1)
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Cmd> {
        match msg {
            Msg::Tick(now) => return self.tick(now),
            Msg::Resize(w, h) => self.size = (w, h),
            Msg::Key(key) => {
                self.dirty = true;
                return self.on_key(key);
            }
            Msg::Run(event) => {
                self.dirty = true;
                return self.on_run_event(event);
            }
            Msg::RunClosed => {
                self.run.channel_closed(self.now);
                if self.stopping {
                    self.should_quit = true;
                }
            }
            Msg::EventsLoaded(result) => self.events.loaded(result),
            Msg::ChecksDone { phase, result } => {
                // Post-migration checks log a validation event.
                self.events.stale |= phase == Phase::Post;
                self.checks.finished(phase, result);
            }
            Msg::RollbackPlanned(result) => self.rollback_planned(result),
            Msg::Rollback(update) => {
                self.dirty = true;
                let cmds = self.on_rollback_update(update);
                self.quit_if_stopped();
                return cmds;
            }
            Msg::RollbackClosed => {
                if self.rollback.as_ref().is_some_and(RollbackStage::is_busy) {
                    self.dirty = true;
                    let cmds = self.rollback_failed(
                        "the rollback stopped without saying why; roll back again to resume it"
                            .into(),
                    );
                    self.quit_if_stopped();
                    return cmds;
                }
            }
            Msg::DecidedAfterRun(result) => return self.decided_after_run(result),
            Msg::QueueLoaded(result) => self.queue_loaded(result),
            Msg::Signal(_) | Msg::InputClosed => return self.stop_and_quit(),
        }
        self.dirty = true;
        Vec::new()
    }

    /// Leaving was asked for and the rollback it waited on has ended.
    fn quit_if_stopped(&mut self) {
        if self.stopping && !self.rolling_back() && !self.run.is_live() {
            self.should_quit = true;
        }
    }

    fn tick(&mut self, now: Instant) -> Vec<Cmd> {
        self.now = Some(now);
        let mut cmds = Vec::new();
        if let Some(since) = self.stopping_since
            && now.saturating_duration_since(since) >= STOP_GRACE
            && !self.should_quit
        {
            self.leave_now();
        }
        if self.stopping && self.stopping_since.is_none() {
            self.stopping_since = Some(now);
        }
        if self.view == View::EventLog && self.events.stale && self.events.begin_reload(self.now) {
            cmds.push(Cmd::LoadEvents);
            self.dirty = true;
        }
        // Redraw for the clock only when the shown second changes.
        let second = self.run.elapsed(self.now).map(|d| d.as_secs());
        if second != self.last_drawn_second {
            self.last_drawn_second = second;
            self.dirty = true;
        }
        cmds
    }

    fn on_run_event(&mut self, event: RunEvent) -> Vec<Cmd> {
        let logged = matches!(event, RunEvent::Logged { .. });
        let ends = matches!(event, RunEvent::Finished(_) | RunEvent::Failed { .. });
        let completed = match &event {
            RunEvent::Finished(s) if s.status == RunState::Completed => {
                self.last_run_id = Uuid::parse_str(&s.run_id).ok().or(self.last_run_id);
                true
            }
            _ => false,
        };
        if let RunEvent::Started { run_id, .. } = &event {
            self.last_run_id = Some(*run_id);
            self.recs.sent.clear();
            self.recs.completed_run = None;
            if !self.stopping {
                self.notice = None;
            }
        }
        let queue = matches!(event, RunEvent::Recommendations(_));
        self.run.apply(event, self.now);
        if queue {
            self.recs.reconcile(&mut self.run.recommendations);
        }
        if ends && self.stopping {
            self.should_quit = true;
        }
        let mut cmds = Vec::new();
        if completed && !self.stopping {
            cmds.extend(self.begin_checks(Phase::Post));
        }
        if logged {
            if self.view == View::EventLog && self.events.begin_reload(self.now) {
                cmds.push(Cmd::LoadEvents);
            } else {
                self.events.stale = true;
            }
        }
        cmds
    }

    /// Whether a rollback is undoing steps now.
    pub fn rolling_back(&self) -> bool {
        self.rollback
            .as_ref()
            .is_some_and(RollbackStage::is_running)
    }

    /// Leaves without waiting for the run or rollback to stop: the database
    /// rolls back what was under way, and the next run or rollback goes on
    /// from the last commit.
    fn leave_now(&mut self) {
        self.should_quit = true;
        self.left_early = if self.rolling_back() {
            Some("the rollback step under way was not committed".into())
        } else if self.run.is_live() {
            Some("the batch under way was not committed".into())
        } else {
            None
        };
    }

    /// Cancel a live run at a batch boundary, or stop a rollback after the
    /// step under way, and leave once it reports back. Asked again while
    /// stopping, leave at once.
    pub(super) fn stop_and_quit(&mut self) -> Vec<Cmd> {
        if self.stopping {
            self.leave_now();
            return Vec::new();
        }
        if self.rolling_back() {
            self.stopping = true;
            self.stopping_since = self.now;
            self.notice =
                Some("stopping the rollback after the step under way… (q again: leave now)".into());
            return vec![Cmd::StopRollback];
        }
        if self.run.is_live() {
            self.stopping = true;
            self.stopping_since = self.now;
            self.notice =
                Some("stopping the run at the next batch boundary… (q again: leave now)".into());
            vec![Cmd::Cancel]
        } else {
            self.should_quit = true;
            Vec::new()
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        let action = self.keymap.action_for(&key);
        match self.layers.last().cloned() {
            Some(layer) => self.on_layer_key(layer, key, action),
            None => match action {
                Some(action) => self.act(action),
                None => Vec::new(),
            },
        }
    }

    fn on_layer_key(&mut self, layer: Layer, key: KeyEvent, action: Option<Action>) -> Vec<Cmd> {
        match layer {
            Layer::Help { scroll } => match action {
                Some(Action::Down) => self.set_top(Layer::Help { scroll: scroll + 1 }),
                Some(Action::Up) => self.set_top(Layer::Help {
                    scroll: scroll.saturating_sub(1),
                }),
                Some(Action::Back | Action::Help | Action::Quit | Action::Open) => {
                    self.layers.pop();
                }
                _ => {}
            },
            Layer::ConfirmQuit => match action {
                Some(Action::Confirm) => {
                    self.layers.pop();
                    return self.stop_and_quit();
                }
                Some(Action::Back) => {
                    self.layers.pop();
                }
                _ => {}
            },
            Layer::EventDetail { id, scroll } => match action {
                Some(Action::Down) => self.set_top(Layer::EventDetail {
                    id,
                    scroll: scroll + 1,
                }),
                Some(Action::Up) => self.set_top(Layer::EventDetail {
                    id,
                    scroll: scroll.saturating_sub(1),
                }),
                Some(Action::Back | Action::Open) => {
                    self.layers.pop();
                }
                Some(Action::Quit) => {
                    self.layers.pop();
                    return self.act(Action::Quit);
                }
                Some(Action::Rollback) => {
                    self.layers.pop();
                    return self.request_rollback(Some(id));
                }
                _ => {}
            },
            Layer::CheckDetail {
                phase,
                index,
                scroll,
            } => match action {
                Some(Action::Down) => self.set_top(Layer::CheckDetail {
                    phase,
                    index,
                    scroll: scroll + 1,
                }),
                Some(Action::Up) => self.set_top(Layer::CheckDetail {
                    phase,
                    index,
                    scroll: scroll.saturating_sub(1),
                }),
                Some(Action::Back | Action::Open) => {
                    self.layers.pop();
                }
                Some(Action::Quit) => {
                    self.layers.pop();
                    return self.act(Action::Quit);
                }
                _ => {}
            },
            Layer::Rollback { scroll } => return self.on_rollback_key(action, scroll),
            Layer::Recommendation { id, scroll } => match action {
                Some(Action::Down) => self.set_top(Layer::Recommendation {
                    id,
                    scroll: scroll + 1,
                }),
                Some(Action::Up) => self.set_top(Layer::Recommendation {
                    id,
                    scroll: scroll.saturating_sub(1),
                }),
                Some(Action::Back | Action::Open) => {
                    self.layers.pop();
                }
                Some(a @ (Action::Accept | Action::Reject | Action::Defer)) => return self.act(a),
                Some(Action::Quit) => {
                    self.layers.pop();
                    return self.act(Action::Quit);
                }
                _ => {}
            },
            Layer::Filter => return self.on_filter_key(key, action),
        }
        Vec::new()
    }

    pub(super) fn set_top(&mut self, layer: Layer) {
        if let Some(top) = self.layers.last_mut() {
            *top = layer;
        }
    }

    /// Typing edits the filter; arrows still move; Enter keeps, Esc clears.
    fn on_filter_key(&mut self, key: KeyEvent, action: Option<Action>) -> Vec<Cmd> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => {
                self.layers.pop();
                self.filter_mut().clear();
            }
            KeyCode::Enter => {
                self.layers.pop();
            }
            KeyCode::Backspace => {
                self.filter_mut().pop();
            }
            KeyCode::Char(c) if !ctrl => self.filter_mut().push(c),
            _ => {
                return match action {
                    Some(a @ (Action::Down | Action::Up | Action::PageDown | Action::PageUp)) => {
                        self.act(a)
                    }
                    Some(Action::Quit) => {
                        self.layers.pop();
                        self.act(Action::Quit)
                    }
                    _ => Vec::new(),
                };
            }
        }
        self.refilter();
        Vec::new()
    }

    fn filter_mut(&mut self) -> &mut String {
        match self.view {
            View::EventLog => &mut self.events.filter,
            View::Validation => &mut self.checks.filter,
            _ => &mut self.mapping.filter,
        }
    }

    /// The filter of the current view's list.
    pub fn filter_text(&self) -> &str {
        match self.view {
            View::EventLog => &self.events.filter,
            View::Validation => &self.checks.filter,
            _ => &self.mapping.filter,
        }
    }

    fn refilter(&mut self) {
        match self.view {
            View::EventLog => self.events.refilter(),
            View::Validation => self.checks.refilter(),
            _ => self.mapping.field_scroll = 0,
        }
    }

    /// Whether `action` does something in the current state (feeds the footer).
    pub fn is_available(&self, action: Action) -> bool {
        if self.read_only && action.dangerous() {
            return false;
        }
        let live = self.run.is_live();
        let rolling_back = self.rollback.as_ref().is_some_and(RollbackStage::is_busy);
        match action {
            Action::StartRun => !live && !rolling_back && self.run.state != RunState::Completed,
            Action::Rollback => self.view == View::EventLog && !live && !rolling_back,
            Action::RunChecks => {
                self.view == View::Validation && !self.checks.phase(self.checks_to_rerun()).running
            }
            Action::PauseResume => {
                live && matches!(self.run.state, RunState::Running | RunState::Paused)
            }
            Action::Filter => self.view.has_list(),
            Action::Down | Action::Up | Action::PageDown | Action::PageUp => self.view.moves(),
            Action::Open => match self.view {
                View::EventLog => self.events.selected_record().is_some(),
                View::Validation => self.checks.selected_check().is_some(),
                View::Recommendations => self.selected_recommendation().is_some(),
                _ => false,
            },
            Action::FocusLeft | Action::FocusRight => self.view == View::Profile,
            Action::Accept | Action::Reject | Action::Defer => {
                self.view == View::Recommendations
                    && (live || self.decides_after_run())
                    && self.selected_recommendation().is_some_and(|r| {
                        !matches!(
                            r.state,
                            crate::recommend::RecommendationState::Applied
                                | crate::recommend::RecommendationState::Withdrawn
                        )
                    })
            }
            Action::Confirm | Action::Back => false,
            _ => true,
        }
    }

    /// Performs a top-level action (no popup open).
    pub fn act(&mut self, action: Action) -> Vec<Cmd> {
        if self.read_only && action.dangerous() {
            self.notice = Some(format!("read-only: {} is disabled", action.name()));
            return Vec::new();
        }
        self.notice = None;
        match action {
            Action::Quit => {
                if (self.run.is_live() || self.rolling_back()) && !self.stopping {
                    self.layers.push(Layer::ConfirmQuit);
                } else {
                    return self.stop_and_quit();
                }
            }
            Action::Help => self.layers.push(Layer::Help { scroll: 0 }),
            Action::StartRun if self.rollback.as_ref().is_some_and(RollbackStage::is_busy) => {
                self.notice = Some("a rollback is under way: start the run after it".into());
            }
            Action::StartRun => {
                if self.is_available(Action::StartRun) {
                    self.run.requested = true;
                    self.run.ended = false;
                    self.notice = Some("starting the run…".into());
                    return vec![Cmd::StartRun];
                }
                self.notice = Some(match self.run.state {
                    RunState::Completed => "the run already completed".into(),
                    _ => "the run is already going".into(),
                });
            }
            Action::PauseResume => match self.run.state {
                _ if !self.run.is_live() => self.notice = Some("no run is going".into()),
                RunState::Paused => {
                    self.run.resume_requested = true;
                    return vec![Cmd::Resume];
                }
                _ => {
                    self.run.pause_requested = true;
                    return vec![Cmd::Pause];
                }
            },
            Action::RunChecks => {
                let phase = self.checks_to_rerun();
                let cmds = self.begin_checks(phase);
                if cmds.is_empty() {
                    self.notice = Some("the checks are already running".into());
                }
                return cmds;
            }
            Action::Rollback => return self.request_rollback(None),
            Action::Filter => {
                if self.view.has_list() {
                    self.layers.push(Layer::Filter);
                }
            }
            Action::NextView => {
                let next = View::ALL[(self.view.index() + 1) % View::ALL.len()];
                return self.switch_to(next);
            }
            Action::ViewOverview => return self.switch_to(View::Overview),
            Action::ViewProfile => return self.switch_to(View::Profile),
            Action::ViewRecommendations => return self.switch_to(View::Recommendations),
            Action::ViewMapping => return self.switch_to(View::Mapping),
            Action::ViewValidation => return self.switch_to(View::Validation),
            Action::ViewTimeline => return self.switch_to(View::Timeline),
            Action::ViewEventLog => return self.switch_to(View::EventLog),
            Action::Down => self.move_by(1),
            Action::Up => self.move_by(-1),
            Action::PageDown => self.page_by(1),
            Action::PageUp => self.page_by(-1),
            Action::Open => match self.view {
                View::EventLog => {
                    if let Some(record) = self.events.selected_record() {
                        let id = record.id;
                        self.layers.push(Layer::EventDetail { id, scroll: 0 });
                    }
                }
                View::Validation => {
                    if let Some((phase, index)) = self.checks.selected_check() {
                        self.layers.push(Layer::CheckDetail {
                            phase,
                            index,
                            scroll: 0,
                        });
                    }
                }
                View::Recommendations => self.open_recommendation(),
                _ => {}
            },
            Action::FocusLeft => self.profile.focus = ProfileFocus::Tables,
            Action::FocusRight => self.profile.focus = ProfileFocus::Columns,
            Action::Accept | Action::Reject | Action::Defer => return self.decide(action),
            Action::Confirm | Action::Back => {}
        }
        Vec::new()
    }

    fn switch_to(&mut self, view: View) -> Vec<Cmd> {
        self.view = view;
        if view == View::EventLog && self.events.begin_reload(self.now) {
            return vec![Cmd::LoadEvents];
        }
        Vec::new()
    }

    fn move_by(&mut self, delta: isize) {
        match self.view {
            View::EventLog => self.events.move_by(delta),
            View::Validation => self.checks.move_by(delta),
            View::Mapping => {
                let last = self.tables.len().saturating_sub(1);
                self.mapping.selected =
                    self.mapping.selected.saturating_add_signed(delta).min(last);
                self.mapping.field_scroll = 0;
            }
            View::Profile => self.profile_move(delta, false),
            View::Recommendations => self.recs.move_by(&self.run.recommendations, delta),
            _ => {}
        }
    }

    fn page_by(&mut self, direction: isize) {
        let page = self.page() as isize;
        match self.view {
            View::EventLog => self.events.move_by(direction * page),
            View::Validation => self.checks.move_by(direction * page),
            View::Mapping => {
                self.mapping.field_scroll = self
                    .mapping
                    .field_scroll
                    .saturating_add_signed(direction * page);
            }
            View::Profile => self.profile_move(direction * page, true),
            View::Recommendations => self
                .recs
                .move_by(&self.run.recommendations, direction * page),
            _ => {}
        }
    }

    /// The checks `run_checks` repeats: post-migration once a run completed
    /// in this session, else pre-migration (the only ones read-only allows).
    pub fn checks_to_rerun(&self) -> Phase {
        if self.last_run_id.is_some() && self.run.state == RunState::Completed && !self.read_only {
            Phase::Post
        } else {
            Phase::Pre
        }
    }

    /// The event the detail popup shows, if it is still loaded.
    pub fn event_by_id(&self, id: i64) -> Option<&EventRecord> {
        self.events.records.iter().find(|r| r.id == id)
    }

    /// Fields of the selected mapping table that pass the filter.
    pub fn mapping_fields(&self) -> Vec<&super::FieldView> {
        let needle = self.mapping.filter.to_lowercase();
        self.tables
            .get(self.mapping.selected)
            .map(|t| {
                t.fields
                    .iter()
                    .filter(|f| {
                        needle.is_empty()
                            || f.target.to_lowercase().contains(&needle)
                            || f.rule.to_lowercase().contains(&needle)
                            || f.source
                                .as_deref()
                                .is_some_and(|s| s.to_lowercase().contains(&needle))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Takes and clears the "needs a redraw" flag.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }
}
