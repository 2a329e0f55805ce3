//! The lines printed while waiting: one per phase change and per condition change, and a
//! progress line with the live numbers at most every few seconds. Pure: the caller passes
//! the status and the time.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::api::status::{LocustTestStatus, Phase};
use crate::status::conditions::{RECONCILING, STALLED};

/// What was last printed.
#[derive(Debug, Clone)]
pub struct Tracker {
    phase: Option<Phase>,
    /// Condition type → (status, reason).
    conditions: BTreeMap<String, (String, String)>,
    progress: Option<String>,
    progress_at: Option<Duration>,
    every: Duration,
}

impl Tracker {
    /// Prints progress at most once per `every`.
    pub fn new(every: Duration) -> Self {
        Self {
            phase: None,
            conditions: BTreeMap::new(),
            progress: None,
            progress_at: None,
            every,
        }
    }

    /// A line for a new phase and for each condition whose status or reason changed
    /// (the kstatus conditions `Reconciling` and `Stalled` repeat `Ready` and are left
    /// out).
    pub fn changes(&mut self, status: Option<&LocustTestStatus>) -> Vec<String> {
        let mut lines = Vec::new();
        let Some(status) = status else {
            return lines;
        };
        if let Some(phase) = status.phase.filter(|p| Some(*p) != self.phase) {
            lines.push(format!("phase {}", phase.as_str()));
            self.phase = Some(phase);
        }
        for c in &status.conditions {
            if [RECONCILING, STALLED].contains(&c.type_.as_str()) {
                continue;
            }
            let now = (c.status.clone(), c.reason.clone());
            if self.conditions.get(&c.type_) == Some(&now) {
                continue;
            }
            let message = if c.message.is_empty() {
                String::new()
            } else {
                format!(": {}", c.message)
            };
            lines.push(format!("{}={} {}{message}", c.type_, c.status, c.reason));
            self.conditions.insert(c.type_.clone(), now);
        }
        lines
    }

    /// The progress line when it says something new and `every` passed since the last.
    pub fn progress(&mut self, status: Option<&LocustTestStatus>, now: Duration) -> Option<String> {
        let text = progress_text(status?)?;
        let due = self
            .progress_at
            .is_none_or(|at| now.saturating_sub(at) >= self.every);
        if !due || self.progress.as_deref() == Some(text.as_str()) {
            return None;
        }
        self.progress = Some(text.clone());
        self.progress_at = Some(now);
        Some(text)
    }
}

/// Users, requests per second, failures and workers of a running test.
pub fn progress_text(status: &LocustTestStatus) -> Option<String> {
    if status.phase != Some(Phase::Running) {
        return None;
    }
    let workers = match (status.connected_workers, status.expected_workers) {
        (Some(c), Some(e)) => format!("{c}/{e} workers connected"),
        (Some(c), None) => format!("{c} workers connected"),
        (None, _) => "workers not counted yet".to_string(),
    };
    Some(match &status.live {
        Some(live) => format!(
            "running: {} users, {:.2} req/s, {:.2} % failed, {workers}",
            live.users,
            live.requests_per_second,
            live.failure_ratio * 100.0
        ),
        None => format!("running: {workers}, no live numbers from the master yet"),
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

    use super::*;
    use crate::api::status::LiveStatus;

    fn condition(type_: &str, status: &str, reason: &str, message: &str) -> Condition {
        crate::status::conditions::condition(type_, status, reason, message, 1)
    }

    #[test]
    fn phase_and_condition_changes_are_printed_once() {
        let mut t = Tracker::new(Duration::from_secs(5));
        let mut s = LocustTestStatus {
            phase: Some(Phase::Pending),
            conditions: vec![
                condition("Ready", "False", "ResourcesPending", "creating"),
                condition("Reconciling", "True", "TestPending", "x"),
            ],
            ..LocustTestStatus::default()
        };
        assert_eq!(
            t.changes(Some(&s)),
            vec!["phase Pending", "Ready=False ResourcesPending: creating"]
        );
        assert!(t.changes(Some(&s)).is_empty(), "nothing new");
        s.conditions[0].message = "other words".into();
        assert!(
            t.changes(Some(&s)).is_empty(),
            "a message alone is not news"
        );
        s.phase = Some(Phase::Running);
        s.conditions[0] = condition("Ready", "True", "ResourcesCreated", "");
        assert_eq!(
            t.changes(Some(&s)),
            vec!["phase Running", "Ready=True ResourcesCreated"]
        );
        assert!(t.changes(None).is_empty());
    }

    #[test]
    fn progress_is_throttled_and_only_printed_when_it_changes() {
        let mut t = Tracker::new(Duration::from_secs(5));
        let mut s = LocustTestStatus {
            phase: Some(Phase::Pending),
            expected_workers: Some(2),
            connected_workers: Some(1),
            ..LocustTestStatus::default()
        };
        let at = Duration::from_secs;
        assert_eq!(t.progress(Some(&s), at(0)), None, "not running");
        s.phase = Some(Phase::Running);
        assert_eq!(
            t.progress(Some(&s), at(1)).as_deref(),
            Some("running: 1/2 workers connected, no live numbers from the master yet")
        );
        s.connected_workers = Some(2);
        s.live = Some(LiveStatus {
            users: 4,
            requests_per_second: 12.345,
            failure_ratio: 0.1,
        });
        assert_eq!(t.progress(Some(&s), at(3)), None, "too soon");
        assert_eq!(
            t.progress(Some(&s), at(6)).as_deref(),
            Some("running: 4 users, 12.35 req/s, 10.00 % failed, 2/2 workers connected")
        );
        assert_eq!(t.progress(Some(&s), at(20)), None, "unchanged");
    }
}
