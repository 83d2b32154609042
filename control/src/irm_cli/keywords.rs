//! The two mechanisms of the `irm` language: keyword tables resolved by
//! prefix, and `keyword value` argument lists.
//!
//! A table lists the words of one level in the order they are tried; a word
//! typed by the user selects the first entry it is a prefix of. The order is
//! therefore part of the language (it is the C tool's order), and a longer
//! keyword listed after a shorter one it extends is only reached by typing
//! past the shorter one: in `ipcp bootstrap`, `addr` comes before
//! `addr_auth`, so `addr` is the address size and `addr_` the policy.

use super::CliError;
use super::help::HelpTopic;

/// The words of one level of the command tree, in the order they are tried.
#[derive(Debug)]
pub(crate) struct Keywords<T: 'static>(pub &'static [(&'static str, T)]);

impl<T: Copy> Keywords<T> {
    /// The first entry `word` is a prefix of. The empty word matches
    /// nothing (in C it matched the first entry).
    pub fn resolve(&self, word: &str) -> Option<(&'static str, T)> {
        if word.is_empty() {
            return None;
        }
        self.0.iter().find(|(kw, _)| kw.starts_with(word)).copied()
    }

    /// The keywords, comma-separated, for messages.
    pub fn list(&self) -> String {
        self.0.iter().map(|(kw, _)| *kw).collect::<Vec<_>>().join(", ")
    }
}

/// How many words an argument takes and how often it may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arity {
    /// A bare keyword (`autobind`, `auto`), at most once.
    Flag,
    /// `keyword value`, at most once.
    Value,
    /// `keyword value`, up to this many times (`ipcp`, `layer` of
    /// `name register`).
    Repeated(usize),
}

/// One argument of a command.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opt<K: 'static> {
    pub keyword: &'static str,
    pub key: K,
    pub arity: Arity,
}

/// Shorthands for argument tables.
pub(crate) const fn value<K>(keyword: &'static str, key: K) -> Opt<K> {
    Opt {
        keyword,
        key,
        arity: Arity::Value,
    }
}

pub(crate) const fn flag<K>(keyword: &'static str, key: K) -> Opt<K> {
    Opt {
        keyword,
        key,
        arity: Arity::Flag,
    }
}

pub(crate) const fn repeated<K>(keyword: &'static str, key: K, max: usize) -> Opt<K> {
    Opt {
        keyword,
        key,
        arity: Arity::Repeated(max),
    }
}

/// One argument as given: which, under its full keyword, and its value
/// (`None` for a flag).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Given<'w, K> {
    pub key: K,
    pub keyword: &'static str,
    pub value: Option<&'w str>,
}

impl<'w, K> Given<'w, K> {
    /// The value of a `keyword value` argument.
    pub fn value(&self) -> &'w str {
        self.value.unwrap_or_default()
    }
}

/// The arguments of one command: its `keyword value` pairs and flags, and
/// when `dashdash` is set, whatever follows a `--` in keyword position.
#[derive(Debug)]
pub(crate) struct Parsed<'w, K> {
    pub given: Vec<Given<'w, K>>,
    pub rest: Option<&'w [&'w str]>,
}

/// Walks `words` as arguments of `topic` against `table`.
///
/// A word in keyword position is resolved by prefix in table order; the word
/// after a valued keyword is its value whatever it looks like (a name may be
/// `name`). Refuses unknown keywords, a keyword without its value, a
/// once-only argument given twice and a repeated one given too often.
pub(crate) fn parse_options<'w, K: Copy + PartialEq>(
    topic: HelpTopic,
    table: &'static [Opt<K>],
    words: &'w [&'w str],
    dashdash: bool,
) -> Result<Parsed<'w, K>, CliError> {
    let mut given: Vec<Given<'w, K>> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        if dashdash && word == "--" {
            return Ok(Parsed {
                given,
                rest: Some(&words[i + 1..]),
            });
        }
        let opt = (!word.is_empty())
            .then(|| table.iter().find(|o| o.keyword.starts_with(word)))
            .flatten()
            .ok_or_else(|| CliError::UnknownArgument {
                topic,
                word: word.to_owned(),
                expected: table.iter().map(|o| o.keyword).collect::<Vec<_>>().join(", "),
            })?;
        let count = given.iter().filter(|g| g.key == opt.key).count();
        match opt.arity {
            Arity::Flag | Arity::Value if count > 0 => {
                return Err(CliError::Duplicate {
                    topic,
                    option: opt.keyword,
                });
            }
            Arity::Repeated(max) if count >= max => {
                return Err(CliError::TooMany {
                    topic,
                    option: opt.keyword,
                    max,
                });
            }
            _ => {}
        }
        let value = if opt.arity == Arity::Flag {
            i += 1;
            None
        } else {
            let v = words.get(i + 1).ok_or(CliError::MissingValue {
                topic,
                option: opt.keyword,
            })?;
            i += 2;
            Some(*v)
        };
        given.push(Given {
            key: opt.key,
            keyword: opt.keyword,
            value,
        });
    }
    Ok(Parsed { given, rest: None })
}

/// Splits off the positional first argument (`irm bind program <path> …`).
pub(crate) fn positional<'w>(
    topic: HelpTopic,
    words: &'w [&'w str],
    argument: &'static str,
) -> Result<(&'w str, &'w [&'w str]), CliError> {
    words
        .split_first()
        .map(|(first, rest)| (*first, rest))
        .ok_or(CliError::MissingArgument { topic, argument })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: Keywords<u8> = Keywords(&[("addr", 1), ("addr_auth", 2), ("autobind", 3)]);

    #[test]
    fn the_first_keyword_a_word_is_a_prefix_of_wins() {
        assert_eq!(TABLE.resolve("a"), Some(("addr", 1)));
        assert_eq!(TABLE.resolve("addr"), Some(("addr", 1)));
        assert_eq!(TABLE.resolve("addr_"), Some(("addr_auth", 2)));
        assert_eq!(TABLE.resolve("au"), Some(("autobind", 3)));
    }

    #[test]
    fn a_word_longer_than_every_keyword_or_empty_matches_nothing() {
        assert_eq!(TABLE.resolve("addresses"), None);
        assert_eq!(TABLE.resolve(""), None);
        assert_eq!(TABLE.resolve("x"), None);
        assert_eq!(TABLE.list(), "addr, addr_auth, autobind");
    }

    const OPTS: &[Opt<u8>] = &[value("name", 0), flag("auto", 1), repeated("layer", 2, 2)];

    #[test]
    fn options_take_the_next_word_as_value_whatever_it_is() {
        let p = parse_options(HelpTopic::Irm, OPTS, &["n", "name", "a", "l", "--"], false).unwrap();
        assert_eq!(p.given.len(), 3);
        assert_eq!(p.given[0].value(), "name");
        assert_eq!(p.given[1].keyword, "auto");
        assert_eq!(p.given[2].value(), "--");
    }

    #[test]
    fn dashdash_in_keyword_position_ends_the_options() {
        let p = parse_options(HelpTopic::Irm, OPTS, &["name", "x", "--", "-l", "name"], true).unwrap();
        assert_eq!(p.given.len(), 1);
        assert_eq!(p.rest, Some(&["-l", "name"][..]));
    }

    #[test]
    fn options_refuse_unknown_missing_value_duplicates_and_too_many() {
        let e = parse_options(HelpTopic::Irm, OPTS, &["zz"], false).unwrap_err();
        assert!(
            matches!(e, CliError::UnknownArgument { ref word, .. } if word == "zz"),
            "{e}"
        );
        let e = parse_options(HelpTopic::Irm, OPTS, &["name"], false).unwrap_err();
        assert!(matches!(e, CliError::MissingValue { option: "name", .. }), "{e}");
        let e = parse_options(HelpTopic::Irm, OPTS, &["auto", "a"], false).unwrap_err();
        assert!(matches!(e, CliError::Duplicate { option: "auto", .. }), "{e}");
        let e = parse_options(HelpTopic::Irm, OPTS, &["l", "a", "l", "b", "l", "c"], false).unwrap_err();
        assert!(
            matches!(
                e,
                CliError::TooMany {
                    option: "layer",
                    max: 2,
                    ..
                }
            ),
            "{e}"
        );
    }
}
