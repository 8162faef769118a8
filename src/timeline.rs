//! The test-run timeline (SPEC §8): phases measured in working days from a start
//! date, skipping weekends and listed holidays, and each phase's state given today
//! and what the run actually did. Plain date math; the cockpit only draws it.

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// The phases used when a project lists none (15 working days in total).
pub const DEFAULT_PHASES: &[(&str, u32, bool)] = &[
    ("Planning & Analysis", 3, false),
    ("Development", 5, false),
    ("Testing & QA", 4, false),
    ("Test Run Execution", 1, true),
    ("Post-Migration Review", 2, false),
];

/// One scheduled phase: `start..=end` are its first and last working days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    pub name: String,
    pub working_days: u32,
    /// The phase that is the migration run itself.
    pub execution: bool,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// The whole plan, phases back to back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub start: NaiveDate,
    pub holidays: Vec<NaiveDate>,
    pub phases: Vec<Phase>,
}

/// What the migration run has done so far, as far as the timeline cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunProgress {
    NotStarted,
    Live,
    Completed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseState {
    Planned,
    InProgress,
    Done,
    /// Past its last day and not done; `days_late` working days so far.
    Slipped {
        days_late: u32,
    },
}

impl PhaseState {
    pub fn label(self) -> String {
        match self {
            PhaseState::Planned => "planned".into(),
            PhaseState::InProgress => "in progress".into(),
            PhaseState::Done => "done".into(),
            PhaseState::Slipped { days_late } => format!("late +{days_late}d"),
        }
    }
}

pub fn is_working_day(day: NaiveDate, holidays: &[NaiveDate]) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !holidays.contains(&day)
}

fn next_day(day: NaiveDate) -> NaiveDate {
    day.checked_add_days(Days::new(1)).unwrap_or(day)
}

/// The first working day on or after `day`.
pub fn next_working_day(mut day: NaiveDate, holidays: &[NaiveDate]) -> NaiveDate {
    // Bounded so that a pathological holiday list cannot loop forever.
    for _ in 0..3660 {
        if is_working_day(day, holidays) {
            return day;
        }
        day = next_day(day);
    }
    day
}

/// Working days in `(from, to]`.
pub fn working_days_after(from: NaiveDate, to: NaiveDate, holidays: &[NaiveDate]) -> u32 {
    from.iter_days()
        .skip(1)
        .take_while(|d| *d <= to)
        .filter(|d| is_working_day(*d, holidays))
        .count() as u32
}

/// Parses `YYYY-MM-DD` holiday strings; the first bad one is returned as the error.
pub fn parse_holidays<S: AsRef<str>>(days: &[S]) -> Result<Vec<NaiveDate>, String> {
    days.iter()
        .map(|d| {
            NaiveDate::parse_from_str(d.as_ref(), "%Y-%m-%d").map_err(|_| d.as_ref().to_string())
        })
        .collect()
}

/// The project's test-run plan: its phases (or the default ones) from its
/// `start_date`, today when it names none.
pub fn for_project(project: &crate::project::Project) -> Plan {
    let start = project
        .start_date
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let phases: Vec<(String, u32, bool)> = project
        .file
        .timeline
        .phases
        .iter()
        .map(|p| (p.name.clone(), p.days, p.execution))
        .collect();
    Plan::build(start, &phases, &project.holidays)
}

impl Plan {
    /// Lays `phases` (name, working days, execution) back to back from `start`;
    /// an empty list means [`DEFAULT_PHASES`].
    pub fn build<N: AsRef<str>>(
        start: NaiveDate,
        phases: &[(N, u32, bool)],
        holidays: &[NaiveDate],
    ) -> Plan {
        let specs: Vec<(String, u32, bool)> = if phases.is_empty() {
            DEFAULT_PHASES
                .iter()
                .map(|(n, d, e)| (n.to_string(), *d, *e))
                .collect()
        } else {
            phases
                .iter()
                .map(|(n, d, e)| (n.as_ref().to_string(), *d, *e))
                .collect()
        };
        let mut day = next_working_day(start, holidays);
        let mut out = Vec::with_capacity(specs.len());
        for (name, days, execution) in specs {
            let first = day;
            let mut last = first;
            for _ in 1..days.max(1) {
                last = next_working_day(next_day(last), holidays);
            }
            if days > 0 {
                day = next_working_day(next_day(last), holidays);
            }
            out.push(Phase {
                name,
                working_days: days,
                execution,
                start: first,
                end: last,
            });
        }
        Plan {
            start,
            holidays: holidays.to_vec(),
            phases: out,
        }
    }

    /// Last working day of the plan.
    pub fn end(&self) -> NaiveDate {
        self.phases.last().map_or(self.start, |p| p.end)
    }

    pub fn total_working_days(&self) -> u32 {
        self.phases.iter().map(|p| p.working_days).sum()
    }

    fn execution_index(&self) -> Option<usize> {
        self.phases.iter().position(|p| p.execution)
    }

    /// Each phase's state. Phases before the execution phase are done once the run
    /// has started; the execution phase follows the run; later phases wait for it.
    pub fn states(&self, today: NaiveDate, run: RunProgress) -> Vec<PhaseState> {
        let exec = self.execution_index();
        self.phases
            .iter()
            .enumerate()
            .map(|(i, phase)| {
                let by_date = || {
                    if today < phase.start {
                        PhaseState::Planned
                    } else if today <= phase.end {
                        PhaseState::InProgress
                    } else {
                        PhaseState::Done
                    }
                };
                let late = || PhaseState::Slipped {
                    days_late: working_days_after(phase.end, today, &self.holidays),
                };
                match exec {
                    Some(e) if i == e => match run {
                        RunProgress::Completed => PhaseState::Done,
                        _ if today > phase.end => late(),
                        RunProgress::Live => PhaseState::InProgress,
                        RunProgress::NotStarted => PhaseState::Planned,
                    },
                    Some(e) if i < e && run != RunProgress::NotStarted => PhaseState::Done,
                    Some(e) if i > e && run != RunProgress::Completed => {
                        if today > phase.end {
                            late()
                        } else {
                            PhaseState::Planned
                        }
                    }
                    _ => by_date(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn default_plan(start: &str, holidays: &[NaiveDate]) -> Plan {
        Plan::build::<&str>(d(start), &[], holidays)
    }

    #[test]
    fn default_plan_is_fifteen_working_days_over_three_weeks() {
        // Monday 2025-03-03: 15 working days end on Friday 2025-03-21.
        let plan = default_plan("2025-03-03", &[]);
        assert_eq!(plan.total_working_days(), 15);
        assert_eq!(plan.phases.len(), 5);
        assert_eq!(plan.end(), d("2025-03-21"));
        let spans: Vec<_> = plan.phases.iter().map(|p| (p.start, p.end)).collect();
        assert_eq!(
            spans,
            vec![
                (d("2025-03-03"), d("2025-03-05")),
                (d("2025-03-06"), d("2025-03-12")),
                (d("2025-03-13"), d("2025-03-18")),
                (d("2025-03-19"), d("2025-03-19")),
                (d("2025-03-20"), d("2025-03-21")),
            ]
        );
        assert!(plan.phases[3].execution);
        assert_eq!(plan.phases[3].name, "Test Run Execution");
    }

    #[test]
    fn weekend_start_moves_to_monday() {
        let plan = default_plan("2025-03-01", &[]);
        assert_eq!(plan.phases[0].start, d("2025-03-03"));
    }

    #[test]
    fn weekends_are_skipped_inside_a_phase() {
        // Thursday + 3 working days: Thu, Fri, Mon.
        let plan = Plan::build(d("2025-03-06"), &[("A", 3, false)], &[]);
        assert_eq!(plan.phases[0].end, d("2025-03-10"));
    }

    #[test]
    fn holidays_are_skipped() {
        let holidays = parse_holidays(&["2025-03-04", "2025-03-10"]).unwrap();
        let plan = default_plan("2025-03-03", &holidays);
        assert_eq!(plan.phases[0].end, d("2025-03-06"));
        // Development: Fri 7, Tue 11, Wed 12, Thu 13, Fri 14 (Mon 10 is a holiday).
        assert_eq!(plan.phases[1].start, d("2025-03-07"));
        assert_eq!(plan.phases[1].end, d("2025-03-14"));
        assert_eq!(plan.end(), d("2025-03-25"));
        for p in &plan.phases {
            assert!(is_working_day(p.start, &holidays) && is_working_day(p.end, &holidays));
        }
    }

    #[test]
    fn bad_holiday_is_named() {
        assert_eq!(parse_holidays(&["2025-13-01"]), Err("2025-13-01".into()));
    }

    #[test]
    fn states_follow_dates_and_the_run() {
        let plan = default_plan("2025-03-03", &[]);
        use PhaseState::*;
        let before = plan.states(d("2025-03-01"), RunProgress::NotStarted);
        assert!(before.iter().all(|s| *s == Planned));
        let dev = plan.states(d("2025-03-07"), RunProgress::NotStarted);
        assert_eq!(&dev[..3], &[Done, InProgress, Planned]);
        let live = plan.states(d("2025-03-19"), RunProgress::Live);
        assert_eq!(live, vec![Done, Done, Done, InProgress, Planned]);
        let finished = plan.states(d("2025-03-19"), RunProgress::Completed);
        assert_eq!(finished[3], Done);
    }

    #[test]
    fn execution_not_done_past_its_day_slips() {
        let plan = default_plan("2025-03-03", &[]);
        // Monday 24th: execution (19th) is three working days late (20, 21, 24).
        let s = plan.states(d("2025-03-24"), RunProgress::NotStarted);
        assert_eq!(s[3], PhaseState::Slipped { days_late: 3 });
        assert_eq!(s[4], PhaseState::Slipped { days_late: 1 });
        let done = plan.states(d("2025-03-24"), RunProgress::Completed);
        assert_eq!(done[3], PhaseState::Done);
        assert_eq!(done[4], PhaseState::Done);
    }
}
