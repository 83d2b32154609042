//! What the user sees while a lab runs: progress lines (bringing up, each
//! step and how long it took, teardown) and every step's output, one line
//! at a time, prefixed by its system and step:
//!
//! ```text
//! ==> [3/5] a/ping: ping -c 3 10.9.0.2
//! a/ping | 64 bytes from 10.9.0.2: icmp_seq=1 ttl=64 time=20.1 ms
//! a/ping ! ping: a line on standard error
//! <== [3/5] a/ping ok (2.04 s)
//! ```
//!
//! The library reports through [`Report`]; the binary prints ([`Console`]),
//! tests collect ([`Collect`]) to show with a failure.

use std::io::Write;
use std::sync::Mutex;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output, prefixed `|`.
    Stdout,
    /// Standard error, prefixed `!`.
    Stderr,
}

/// Where progress and output go. Called from several threads at once
/// (background steps print while others run).
pub trait Report: Send + Sync {
    /// A progress line of the tool's own.
    fn progress(&self, line: &str);
    /// A line of a step's output.
    fn output(&self, system: &str, step: &str, stream: Stream, line: &str);
}

/// The text of one output line as [`Console`] prints it.
pub fn output_line(system: &str, step: &str, stream: Stream, line: &str) -> String {
    let mark = match stream {
        Stream::Stdout => '|',
        Stream::Stderr => '!',
    };
    format!("{system}/{step} {mark} {line}")
}

/// Prints everything to standard output, a line at a time.
#[derive(Debug, Default)]
pub struct Console;

impl Report for Console {
    fn progress(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    fn output(&self, system: &str, step: &str, stream: Stream, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", output_line(system, step, stream, line));
        let _ = out.flush();
    }
}

/// Keeps everything, for a test to show when it fails.
#[derive(Debug, Default)]
pub struct Collect(Mutex<String>);

impl Collect {
    /// Everything reported so far.
    pub fn text(&self) -> String {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn push(&self, line: &str) {
        let mut text = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        text.push_str(line);
        text.push('\n');
    }
}

impl Report for Collect {
    fn progress(&self, line: &str) {
        self.push(line);
    }

    fn output(&self, system: &str, step: &str, stream: Stream, line: &str) {
        self.push(&output_line(system, step, stream, line));
    }
}
