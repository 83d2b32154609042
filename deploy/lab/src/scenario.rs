//! Running a lab's steps in order, each shown as it starts and ends:
//!
//! | step | runs | succeeds when |
//! |---|---|---|
//! | `run` | `sh -c <line>` on a system, until it exits or its `timeout` | [`Expect::check`] holds |
//! | `run` + `eventually` | the same again every `interval`, output shown for the last try | one try's expectations hold in time |
//! | `run` + `background` | started, output shown as it comes, stopped at the end | (at its `wait` step) |
//! | `wait` | nothing: waits for a background step to end | it ends in time as it `expect`s |
//! | `sleep` | nothing, for a while | always |
//!
//! The first step that fails ends the scenario; background steps are then
//! stopped (the group of each: SIGTERM, SIGKILL two seconds later).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::expect::{Expect, Outcome};
use crate::process::{self, Captured, Group, SystemEnv, Waited};
use crate::report::{Report, Stream};
use crate::topology::{Action, Run, Step};

/// How long a stopped process group has to exit before SIGKILL.
const GRACE: Duration = Duration::from_secs(2);
/// How long output may trail a process's exit.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// Why a scenario did not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// A step failed.
    Failed {
        /// Its label.
        step: String,
        /// Its system, for a step that runs on one.
        system: Option<String>,
        /// What went wrong.
        reason: String,
    },
    /// A signal asked o7s-lab to stop.
    Interrupted,
}

/// A background step while it runs.
#[derive(Debug)]
struct Background {
    label: String,
    system: String,
    group: Group,
    captured: Option<Captured>,
    expect: Expect,
    /// Set once its end was seen and shown.
    ended: Option<Outcome>,
}

/// The steps of one lab, run against its systems.
pub struct Scenario<'a> {
    steps: &'a [Step],
    /// The environment of a system, by name.
    env: &'a dyn Fn(&str) -> SystemEnv,
    /// A command line with its placeholders replaced.
    expand: &'a dyn Fn(&str) -> Result<String, String>,
    report: Arc<dyn Report>,
    stop: &'a AtomicBool,
    background: Vec<Background>,
}

impl core::fmt::Debug for Scenario<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Scenario")
            .field("steps", &self.steps.len())
            .field("background", &self.background)
            .finish_non_exhaustive()
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

impl<'a> Scenario<'a> {
    /// A scenario of `steps`.
    pub fn new(
        steps: &'a [Step],
        env: &'a dyn Fn(&str) -> SystemEnv,
        expand: &'a dyn Fn(&str) -> Result<String, String>,
        report: Arc<dyn Report>,
        stop: &'a AtomicBool,
    ) -> Scenario<'a> {
        Scenario {
            steps,
            env,
            expand,
            report,
            stop,
            background: Vec::new(),
        }
    }

    /// Runs every step in order; stops at the first that fails. Background
    /// steps keep running: [`Scenario::stop_background`] ends them (and
    /// dropping the scenario kills them).
    pub fn run(&mut self) -> Result<(), Stopped> {
        let total = self.steps.len();
        for (i, step) in self.steps.iter().enumerate() {
            if self.stop.load(Ordering::Relaxed) {
                return Err(Stopped::Interrupted);
            }
            self.notice_ended();
            let tag = format!("[{}/{total}]", i + 1);
            tracing::info!(step = %step.label, number = i + 1, "step starting");
            let start = Instant::now();
            let (who, result) = match &step.action {
                Action::Run(run) => {
                    let who = format!("{}/{}", run.on, step.label);
                    let result = self.run_step(&tag, &who, &step.label, run);
                    (who, result)
                }
                Action::Sleep(d) => {
                    self.report
                        .progress(&format!("==> {tag} {}: sleep {}", step.label, secs(*d)));
                    (step.label.clone(), self.sleep(*d).map_err(|()| Stopped::Interrupted))
                }
                Action::Wait { step: target, timeout } => {
                    self.report.progress(&format!(
                        "==> {tag} {}: wait for background step {target} to end (up to {})",
                        step.label,
                        secs(*timeout)
                    ));
                    (step.label.clone(), self.wait_step(target, *timeout))
                }
            };
            tracing::info!(step = %step.label, elapsed = ?start.elapsed(), ok = result.is_ok(), "step done");
            match result {
                Ok(()) => self
                    .report
                    .progress(&format!("<== {tag} {who} ok ({})", secs(start.elapsed()))),
                Err(Stopped::Failed {
                    step: _,
                    system,
                    reason,
                }) => {
                    self.report
                        .progress(&format!("FAILED {tag} {who}: {reason} ({})", secs(start.elapsed())));
                    return Err(Stopped::Failed {
                        step: step.label.clone(),
                        system,
                        reason,
                    });
                }
                Err(Stopped::Interrupted) => {
                    self.report.progress(&format!("INTERRUPTED {tag} {who}"));
                    return Err(Stopped::Interrupted);
                }
            }
        }
        Ok(())
    }

    fn failed(&self, run: &Run, label: &str, reason: String) -> Stopped {
        Stopped::Failed {
            step: label.to_owned(),
            system: Some(run.on.clone()),
            reason,
        }
    }

    fn run_step(&mut self, tag: &str, who: &str, label: &str, run: &Run) -> Result<(), Stopped> {
        let line = (self.expand)(&run.command).map_err(|e| self.failed(run, label, e))?;
        let expect = run
            .expect
            .expand(|t| (self.expand)(t))
            .map_err(|e| self.failed(run, label, e))?;
        let how = if run.background {
            " (background)".to_owned()
        } else if let Some(e) = run.eventually {
            format!(" (eventually, up to {})", secs(e))
        } else {
            String::new()
        };
        self.report.progress(&format!("==> {tag} {who}: {line}{how}"));
        let env = (self.env)(&run.on);
        if run.background {
            let mut group = Group::spawn(&mut env.shell(&line))
                .map_err(|e| self.failed(run, label, format!("cannot start: {e}")))?;
            let live = Some((Arc::clone(&self.report), run.on.clone(), label.to_owned()));
            let captured = group.child().map(|c| Captured::start(c, live));
            self.background.push(Background {
                label: label.to_owned(),
                system: run.on.clone(),
                group,
                captured,
                expect,
                ended: None,
            });
            return Ok(());
        }
        let Some(within) = run.eventually else {
            let outcome = self.run_once(&env, label, &line, run.timeout, true)?;
            return expect.check(&outcome).map_err(|r| self.failed(run, label, r));
        };
        let deadline = Instant::now() + within;
        let mut tries = 0;
        loop {
            tries += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            let outcome = self.run_once(
                &env,
                label,
                &line,
                run.timeout.min(left.max(Duration::from_millis(100))),
                false,
            )?;
            let verdict = expect.check(&outcome);
            if verdict.is_ok() || Instant::now() + run.interval >= deadline {
                self.show(&run.on, label, &outcome);
                return verdict.map_err(|r| {
                    self.failed(
                        run,
                        label,
                        format!("{r}, still after {tries} tries in {}", secs(within)),
                    )
                });
            }
            self.sleep(run.interval).map_err(|()| Stopped::Interrupted)?;
        }
    }

    /// Runs `line` once on a system; its output shown as it comes if
    /// `live`. What the line left running in its group is killed.
    fn run_once(
        &self,
        env: &SystemEnv,
        label: &str,
        line: &str,
        timeout: Duration,
        live: bool,
    ) -> Result<Outcome, Stopped> {
        let mut group = Group::spawn(&mut env.shell(line)).map_err(|e| Stopped::Failed {
            step: label.to_owned(),
            system: Some(env.system.clone()),
            reason: format!("cannot start: {e}"),
        })?;
        let live = live.then(|| (Arc::clone(&self.report), env.system.clone(), label.to_owned()));
        let captured = group.child().map(|c| Captured::start(c, live));
        let finish = |c: Option<Captured>| c.map(|c| c.finish(OUTPUT_GRACE)).unwrap_or_default();
        match process::wait(&mut group, Instant::now() + timeout, self.stop) {
            Waited::Exited(status) => {
                group.terminate(GRACE);
                Ok(process::outcome(Some(status), false, finish(captured)))
            }
            Waited::TimedOut => {
                let status = group.terminate(GRACE);
                Ok(process::outcome(status, true, finish(captured)))
            }
            Waited::Stopped => {
                group.terminate(GRACE);
                Err(Stopped::Interrupted)
            }
        }
    }

    /// Shows an outcome's output that was not shown live.
    fn show(&self, system: &str, label: &str, outcome: &Outcome) {
        for (stream, text) in [(Stream::Stdout, &outcome.stdout), (Stream::Stderr, &outcome.stderr)] {
            for line in text.lines() {
                self.report.output(system, label, stream, line);
            }
        }
    }

    fn wait_step(&mut self, target: &str, timeout: Duration) -> Result<(), Stopped> {
        let Some(i) = self.background.iter().position(|b| b.label == target) else {
            return Err(Stopped::Failed {
                step: target.to_owned(),
                system: None,
                reason: format!("background step {target} is not running"),
            });
        };
        let deadline = Instant::now() + timeout;
        let b = &mut self.background[i];
        let outcome = match &b.ended {
            Some(o) => o.clone(),
            None => match process::wait(&mut b.group, deadline, self.stop) {
                Waited::Exited(status) => {
                    b.group.terminate(GRACE);
                    process::outcome(
                        Some(status),
                        false,
                        b.captured.take().map(|c| c.finish(OUTPUT_GRACE)).unwrap_or_default(),
                    )
                }
                Waited::TimedOut => {
                    return Err(Stopped::Failed {
                        step: target.to_owned(),
                        system: Some(b.system.clone()),
                        reason: format!("still running after {}", secs(timeout)),
                    });
                }
                Waited::Stopped => return Err(Stopped::Interrupted),
            },
        };
        let b = self.background.remove(i);
        b.expect.check(&outcome).map_err(|reason| Stopped::Failed {
            step: b.label.clone(),
            system: Some(b.system.clone()),
            reason: format!("background step {}: {reason}", b.label),
        })
    }

    /// Says which background steps have ended on their own since the last
    /// look.
    fn notice_ended(&mut self) {
        for b in &mut self.background {
            if b.ended.is_some() {
                continue;
            }
            if let Some(status) = b.group.try_wait() {
                let output = b.captured.take().map(|c| c.finish(OUTPUT_GRACE)).unwrap_or_default();
                let outcome = process::outcome(Some(status), false, output);
                self.report.progress(&format!(
                    "    background step {}/{} {}",
                    b.system,
                    b.label,
                    outcome.ending()
                ));
                b.ended = Some(outcome);
            }
        }
    }

    /// Stops the background steps still running, saying how each ended.
    pub fn stop_background(&mut self) {
        self.notice_ended();
        for mut b in self.background.drain(..) {
            if b.ended.is_some() {
                continue;
            }
            b.group.terminate(GRACE);
            if let Some(c) = b.captured.take() {
                c.finish(OUTPUT_GRACE);
            }
            self.report
                .progress(&format!("    stopped background step {}/{}", b.system, b.label));
        }
    }

    /// Sleeps `d`, or less if a signal asks to stop (then `Err`).
    fn sleep(&self, d: Duration) -> Result<(), ()> {
        let deadline = Instant::now() + d;
        while Instant::now() < deadline {
            if self.stop.load(Ordering::Relaxed) {
                return Err(());
            }
            std::thread::sleep(
                deadline
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(20)),
            );
        }
        Ok(())
    }
}
