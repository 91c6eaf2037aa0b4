//! A sweep's progress on standard error: an indicatif bar on a terminal; elsewhere (a CI
//! log) nothing but a summary line at the end, or with `--progress plain` a line every few
//! seconds. Never a carriage return into a file.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sansnet::explore::{StoppedEarly, SweepProgress, SweepReport};

use super::args::ProgressMode;
use super::style;

/// Seconds between two lines of `--progress plain`.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// How this sweep's progress is shown.
#[derive(Debug)]
pub struct Progress {
    kind: Kind,
    /// Runs the sweep does if nothing stops it (`u64::MAX`: only the time bounds it).
    total: u64,
    budget: Option<Duration>,
}

#[derive(Debug)]
enum Kind {
    Bar(ProgressBar),
    /// The last line's time.
    Plain(Mutex<Duration>),
    Summary,
    Silent,
}

impl Progress {
    /// The display `mode` asks for, for `total` runs within `budget`.
    pub fn new(mode: ProgressMode, total: u64, budget: Option<Duration>) -> Progress {
        let kind = match mode {
            ProgressMode::None => Kind::Silent,
            ProgressMode::Plain => Kind::Plain(Mutex::new(Duration::ZERO)),
            ProgressMode::Auto if std::io::stderr().is_terminal() => Kind::Bar(bar(total, budget)),
            ProgressMode::Auto => Kind::Summary,
        };
        if let Kind::Bar(b) = &kind {
            super::logging::set_bar(b);
            // A run that panics is a failure like any other, but the panic hook prints
            // first: above the bar, not through it.
            let (bar, print) = (b.clone(), std::panic::take_hook());
            std::panic::set_hook(Box::new(move |info| bar.suspend(|| print(info))));
        }
        Progress {
            kind,
            total,
            budget,
        }
    }

    /// After each run.
    pub fn update(&self, p: &SweepProgress) {
        match &self.kind {
            Kind::Bar(bar) => {
                match self.budget {
                    Some(_) => bar.set_position(p.elapsed.as_millis() as u64),
                    None => bar.set_position(p.done),
                }
                if p.failed > 0 || self.budget.is_some() {
                    bar.set_message(self.message(p));
                }
            }
            Kind::Plain(last) => {
                let Ok(mut last) = last.try_lock() else {
                    return; // another worker is printing this moment's line
                };
                if p.elapsed >= *last + PLAIN_EVERY {
                    *last = p.elapsed;
                    eprintln!("sansnet sweep: {}", self.line(p));
                }
            }
            Kind::Summary | Kind::Silent => {}
        }
    }

    /// Clears the bar, or prints the summary line.
    pub fn finish(&self, report: &SweepReport) {
        match &self.kind {
            Kind::Bar(bar) => bar.finish_and_clear(),
            Kind::Plain(_) | Kind::Summary => eprintln!("sansnet sweep: {}", summary(report)),
            Kind::Silent => {}
        }
    }

    fn message(&self, p: &SweepProgress) -> String {
        let failed = if p.failed > 0 {
            style::bad(&format!("{} failed", p.failed))
        } else {
            "0 failed".to_owned()
        };
        match self.budget {
            Some(budget) => format!(
                "{} runs, {failed}, {:.0} s left",
                p.done,
                budget.saturating_sub(p.elapsed).as_secs_f64()
            ),
            None => failed,
        }
    }

    fn line(&self, p: &SweepProgress) -> String {
        let secs = p.elapsed.as_secs_f64();
        let rate = p.done as f64 / secs.max(1e-9);
        let left = match (self.budget, self.total) {
            (Some(budget), _) => budget.saturating_sub(p.elapsed).as_secs_f64(),
            (None, total) => total.saturating_sub(p.done) as f64 / rate.max(1e-9),
        };
        let of = if self.total == u64::MAX || self.budget.is_some() {
            String::new()
        } else {
            format!("/{}", self.total)
        };
        format!(
            "{}{of} runs, {} failed, {secs:.0} s, {rate:.0} runs/s, about {left:.0} s left",
            p.done, p.failed
        )
    }
}

fn bar(total: u64, budget: Option<Duration>) -> ProgressBar {
    let (len, template) = match budget {
        Some(budget) => (
            budget.as_millis() as u64,
            "{elapsed:>4} {bar:30.cyan/blue} {msg}",
        ),
        None => (
            total,
            "{elapsed:>4} {bar:30.cyan/blue} {human_pos}/{human_len} runs, {rate}, {msg}, ETA {eta}",
        ),
    };
    let template = if style::stderr_colored() {
        template.to_owned()
    } else {
        template.replace(".cyan/blue", "")
    };
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0} runs/s", state.per_sec());
            },
        )
        .progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr_with_hz(10));
    bar.set_style(style);
    bar.set_message("0 failed");
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// One line: runs, time, rate, failures, and why the sweep stopped early if it did.
pub fn summary(report: &SweepReport) -> String {
    let rate = report.runs as f64 / report.wall_secs.max(1e-9);
    let mut s = format!(
        "{} runs in {:.1} s ({rate:.0} runs/s), {} failed",
        report.runs,
        report.wall_secs,
        report.failures.len()
    );
    match report.stopped_early {
        Some(StoppedEarly::TimeBudget) => s.push_str("; the time budget is spent"),
        Some(StoppedEarly::MaxFailures) => s.push_str("; stopped at --max-failures"),
        Some(StoppedEarly::Interrupted) => s.push_str("; interrupted"),
        None => {}
    }
    s
}
