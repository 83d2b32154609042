//! What a step must show for the scenario to go on: its exit status and
//! what its output contains or matches. Checked here without I/O on the
//! [`Outcome`] the step left.

use core::fmt;

use regex::Regex;

pub use crate::topology::values::StatusExpect;

/// A step's expectations.
#[derive(Debug, Clone)]
pub struct Expect {
    /// The exit status.
    pub status: StatusExpect,
    /// What standard output must contain or match, each.
    pub stdout: Vec<Pattern>,
    /// What standard error must contain or match, each.
    pub stderr: Vec<Pattern>,
}

impl Default for Expect {
    /// Exit status 0, any output.
    fn default() -> Expect {
        Expect {
            status: StatusExpect::Code(0),
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }
}

/// Something a stream must show.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// This text, anywhere.
    Contains(String),
    /// A match of this regular expression (multi-line: `^` and `$` match
    /// at line ends).
    Regex(Regex),
}

impl Pattern {
    fn found_in(&self, text: &str) -> bool {
        match self {
            Pattern::Contains(s) => text.contains(s.as_str()),
            Pattern::Regex(r) => r.is_match(text),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Contains(s) => write!(f, "does not contain {s:?}"),
            Pattern::Regex(r) => write!(f, "does not match /{}/", r.as_str()),
        }
    }
}

/// How a command ended and what it wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Its exit code, none if a signal ended it.
    pub code: Option<i32>,
    /// The signal that ended it.
    pub signal: Option<i32>,
    /// Whether it was stopped for running past its timeout.
    pub timed_out: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Outcome {
    /// How it ended, in words.
    pub fn ending(&self) -> String {
        match (self.timed_out, self.code, self.signal) {
            (true, _, _) => "was stopped at its timeout".to_owned(),
            (_, Some(code), _) => format!("exited with status {code}"),
            (_, None, Some(sig)) => format!("was killed by signal {sig}"),
            (_, None, None) => "ended without a status".to_owned(),
        }
    }
}

impl Expect {
    /// The same, with `expand` applied to the texts that must be contained
    /// (placeholders in `*_contains`; regular expressions stay as written).
    pub fn expand(&self, expand: impl Fn(&str) -> Result<String, String>) -> Result<Expect, String> {
        let each = |patterns: &[Pattern]| {
            patterns
                .iter()
                .map(|p| match p {
                    Pattern::Contains(s) => expand(s).map(Pattern::Contains),
                    Pattern::Regex(r) => Ok(Pattern::Regex(r.clone())),
                })
                .collect::<Result<Vec<_>, String>>()
        };
        Ok(Expect {
            status: self.status,
            stdout: each(&self.stdout)?,
            stderr: each(&self.stderr)?,
        })
    }

    /// Whether `outcome` is what was expected; if not, why, in words.
    pub fn check(&self, outcome: &Outcome) -> Result<(), String> {
        if outcome.timed_out {
            return Err(outcome.ending());
        }
        let status_ok = match self.status {
            StatusExpect::Any => true,
            StatusExpect::Code(c) => outcome.code == Some(i32::from(c)),
            StatusExpect::Nonzero => outcome.code.is_some_and(|c| c != 0),
        };
        if !status_ok {
            return Err(format!("{} (expected {})", outcome.ending(), self.status));
        }
        for (stream, patterns, text) in [
            ("stdout", &self.stdout, &outcome.stdout),
            ("stderr", &self.stderr, &outcome.stderr),
        ] {
            if let Some(p) = patterns.iter().find(|p| !p.found_in(text)) {
                return Err(format!("{stream} {p}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(code: i32, stdout: &str) -> Outcome {
        Outcome {
            code: Some(code),
            stdout: stdout.to_owned(),
            ..Outcome::default()
        }
    }

    #[test]
    fn by_default_a_step_must_exit_with_status_0() {
        assert_eq!(Expect::default().check(&exited(0, "")), Ok(()));
        assert_eq!(
            Expect::default().check(&exited(2, "")),
            Err("exited with status 2 (expected exit status 0)".to_owned())
        );
        let killed = Outcome {
            signal: Some(9),
            ..Outcome::default()
        };
        assert_eq!(
            Expect::default().check(&killed),
            Err("was killed by signal 9 (expected exit status 0)".to_owned())
        );
    }

    #[test]
    fn any_and_nonzero_statuses() {
        let any = Expect {
            status: StatusExpect::Any,
            ..Expect::default()
        };
        let nonzero = Expect {
            status: StatusExpect::Nonzero,
            ..Expect::default()
        };
        assert!(any.check(&exited(3, "")).is_ok());
        assert!(nonzero.check(&exited(3, "")).is_ok());
        assert!(nonzero.check(&exited(0, "")).is_err());
    }

    #[test]
    fn every_pattern_must_be_found_in_its_stream() {
        let expect = Expect {
            stdout: vec![
                Pattern::Contains("3 received".to_owned()),
                Pattern::Regex(Regex::new(r"(?m)^rtt min/avg/max/mdev = 2\d\.\d+/").unwrap()),
            ],
            stderr: vec![Pattern::Contains("warning".to_owned())],
            ..Expect::default()
        };
        let mut out = exited(
            0,
            "3 packets transmitted, 3 received\nrtt min/avg/max/mdev = 20.1/20.2/20.3/0.1 ms\n",
        );
        assert_eq!(
            expect.check(&out),
            Err("stderr does not contain \"warning\"".to_owned())
        );
        out.stderr = "a warning".to_owned();
        assert_eq!(expect.check(&out), Ok(()));
        out.stdout = out.stdout.replace("= 20.1", "= 0.05");
        let err = expect.check(&out).unwrap_err();
        assert!(err.starts_with("stdout does not match /(?m)^rtt"), "{err}");
    }

    #[test]
    fn a_timeout_fails_whatever_is_expected() {
        let any = Expect {
            status: StatusExpect::Any,
            ..Expect::default()
        };
        let late = Outcome {
            timed_out: true,
            signal: Some(15),
            ..Outcome::default()
        };
        assert_eq!(any.check(&late), Err("was stopped at its timeout".to_owned()));
    }
}
