//! Results: `target/bench/results.json` and a Markdown table (printed, and written to
//! `target/bench/results.md`; `docs/benchmarks.md` keeps a copy of the latest).

use std::path::Path;

use serde::Serialize;

use crate::stats::median;
use crate::{Result, ctx};

/// One figure: every run's value and their median, with the target if there is one.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// Stable key, e.g. `startup.ready_ms`.
    pub key: String,
    /// What it is, for people.
    pub what: String,
    /// Unit of the values.
    pub unit: String,
    /// One value per run.
    pub runs: Vec<f64>,
    /// The median of the runs.
    pub median: f64,
    /// The target, e.g. `< 300`.
    pub target: Option<String>,
    /// Whether the median meets the target.
    pub meets_target: Option<bool>,
}

/// The machine the figures were measured on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPU model from `/proc/cpuinfo`.
    pub cpu: String,
    /// Online cores.
    pub cores: usize,
    /// Total memory in GiB.
    pub ram_gib: f64,
    /// `uptime`'s load averages when the run started and ended.
    pub load_at_start: String,
    /// See `load_at_start`.
    pub load_at_end: String,
    /// UTC date and time of the run (`date -u`).
    pub date: String,
}

/// Every figure of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// How it was run (sizes, repetitions).
    pub settings: serde_json::Value,
    /// The figures, in the order measured.
    pub figures: Vec<Figure>,
}

/// A target: the median must be below (`Lt`) or at least (`Ge`) the value.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// Below.
    Lt(f64),
    /// At least.
    Ge(f64),
}

impl Report {
    /// A report for this machine.
    pub fn new(settings: serde_json::Value) -> Self {
        Self {
            machine: machine(),
            settings,
            figures: Vec::new(),
        }
    }

    /// Adds a figure.
    pub fn add(
        &mut self,
        key: &str,
        what: &str,
        unit: &str,
        runs: Vec<f64>,
        target: Option<Target>,
    ) {
        let m = median(&runs);
        let (target, meets) = match target {
            Some(Target::Lt(v)) => (Some(format!("< {v}")), Some(m < v)),
            Some(Target::Ge(v)) => (Some(format!("≥ {v}")), Some(m >= v)),
            None => (None, None),
        };
        eprintln!("  {key}: median {} {unit} of {runs:?}", round(m));
        self.figures.push(Figure {
            key: key.into(),
            what: what.into(),
            unit: unit.into(),
            runs,
            median: m,
            target,
            meets_target: meets,
        });
    }

    /// The Markdown table.
    pub fn table(&self) -> String {
        let m = &self.machine;
        let mut out = format!(
            "Measured {} on {} ({} cores, {:.0} GiB RAM); load average at start {}, at end {}.\n\n",
            m.date, m.cpu, m.cores, m.ram_gib, m.load_at_start, m.load_at_end
        );
        out.push_str(
            "| figure | median | unit | runs | target | met |\n|---|---:|---|---|---|---|\n",
        );
        for f in &self.figures {
            let runs: Vec<String> = f.runs.iter().map(|v| round(*v)).collect();
            out.push_str(&format!(
                "| {} (`{}`) | {} | {} | {} | {} | {} |\n",
                f.what,
                f.key,
                round(f.median),
                f.unit,
                runs.join(", "),
                f.target.as_deref().unwrap_or(""),
                match f.meets_target {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "",
                }
            ));
        }
        out
    }

    /// Writes `results.json` and `results.md` into `dir`.
    pub fn write(&mut self, dir: &Path) -> Result<()> {
        self.machine.load_at_end = load();
        std::fs::create_dir_all(dir).map_err(ctx(format!("creating {}", dir.display())))?;
        let json = serde_json::to_string_pretty(self).map_err(ctx("results to JSON"))?;
        std::fs::write(dir.join("results.json"), json).map_err(ctx("writing results.json"))?;
        std::fs::write(dir.join("results.md"), self.table()).map_err(ctx("writing results.md"))?;
        Ok(())
    }
}

/// A number with sensible precision for the table.
pub fn round(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        ram_gib,
        load_at_start: load(),
        load_at_end: String::new(),
        date: command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
    }
}

/// The 1, 5 and 15 minute load averages.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn command(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}
