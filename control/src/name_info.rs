//! What irmd keeps about a name besides its bindings and registrations: the
//! load-balancing policy and the OAP file paths (PROTOCOL.md §6.5, §17.1,
//! §17.4), shared by `irm name create` and the `[name.<n>]` tables.
//!
//! | field | `irm name create` | TOML key | default |
//! |---|---|---|---|
//! | [`LoadBalance`] | `lb round-robin\|spillover` | `lb = "round-robin"\|"spill"` | round-robin (irm), spill (TOML) |
//! | server encryption config | `sencpath` | `server_enc_file` | `<security>/server/<n>/enc.conf` |
//! | server certificate | `scrtpath` | `server_crt_file` | `<security>/server/<n>/crt.pem` |
//! | server key | `skeypath` | `server_key_file` | `<security>/server/<n>/key.pem` |
//! | client encryption config | `cencpath` | `client_enc_file` | `<security>/client/<n>/enc.conf` |
//! | client certificate | `ccrtpath` | `client_crt_file` | `<security>/client/<n>/crt.pem` |
//! | client key | `ckeypath` | `client_key_file` | `<security>/client/<n>/key.pem` |
//!
//! The two defaults for `lb` differ in the C prototype too; both are kept so
//! that the same command or file gives the same result here. Both spellings of
//! spill-over (`spillover` from the CLI, `spill` from the file) are accepted
//! in both places.

use core::fmt;
use core::str::FromStr;
use std::path::PathBuf;

use crate::ipcp_config::ValueProblem;

/// Longest name, IPCP name or layer name, in octets (`NAME_SIZE`,
/// `IPCP_NAME_SIZE`, `LAYER_NAME_SIZE` of the C prototype).
pub const MAX_NAME_LEN: usize = 255;

/// Checks a name, IPCP name or layer name. The rule: 1 to
/// [`MAX_NAME_LEN`] octets of UTF-8 made of visible characters — letters,
/// digits, punctuation and symbols of any script. Refused: whitespace
/// (names are single words in `irm` command lines, in tables and in the
/// TOML file's `args`), control characters (a newline or an escape
/// sequence would forge lines in logs and tables), and the invisible
/// formatting characters (zero-width and bidirectional controls) that make
/// two different names look alike.
pub fn check_name(name: &str) -> Result<(), ValueProblem> {
    if name.is_empty() {
        return Err(ValueProblem::Invalid {
            value: String::new(),
            reason: "is empty",
        });
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ValueProblem::TooLong {
            len: name.len(),
            max: MAX_NAME_LEN,
        });
    }
    let refused = |reason| {
        Err(ValueProblem::Invalid {
            value: name.to_owned(),
            reason,
        })
    };
    for c in name.chars() {
        if c.is_control() {
            return refused("contains a control character");
        }
        if c.is_whitespace() {
            return refused("contains white space");
        }
        if is_invisible_format(c) {
            return refused("contains an invisible formatting character");
        }
    }
    Ok(())
}

/// Unicode format characters (category Cf) that render as nothing or
/// reorder text: soft hyphen, zero-width spaces and joiners, directional
/// marks, embeddings, overrides and isolates, invisible operators, the
/// byte-order mark, interlinear annotation and tag characters.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// How irmd picks among several processes accepting flows for one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum LoadBalance {
    /// Each new flow goes to the next accepting process in turn (`LB_RR`).
    RoundRobin = 0,
    /// New flows go to the first accepting process until it stops accepting
    /// (`LB_SPILL`).
    Spill = 1,
}

impl LoadBalance {
    /// The C enum value (`enum pol_balance`).
    pub const fn value(self) -> u32 {
        self as u32
    }

    /// The keyword `irm name create … lb` and `irm name list` use.
    pub const fn keyword(self) -> &'static str {
        match self {
            LoadBalance::RoundRobin => "round-robin",
            LoadBalance::Spill => "spillover",
        }
    }

    /// What `irm name create` uses when `lb` is not given.
    pub const CLI_DEFAULT: LoadBalance = LoadBalance::RoundRobin;
    /// What a `[name.<n>]` table without `lb`, and a name that
    /// `irm name register` or a `reg` key creates, get.
    pub const FILE_DEFAULT: LoadBalance = LoadBalance::Spill;
}

impl FromStr for LoadBalance {
    type Err = ValueProblem;

    fn from_str(s: &str) -> Result<LoadBalance, ValueProblem> {
        match s {
            "round-robin" => Ok(LoadBalance::RoundRobin),
            "spillover" | "spill" => Ok(LoadBalance::Spill),
            _ => Err(ValueProblem::NotOneOf {
                value: s.to_owned(),
                expected: "round-robin, spillover (or spill)",
            }),
        }
    }
}

impl fmt::Display for LoadBalance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// The OAP files of a name (§6.5); `None` means the default under the
/// security directory, which irmd fills in (it knows where that is).
///
/// Paths are kept as given: whether they exist is checked by irmd when it
/// applies them, not by the parsers (which do no I/O).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityPaths {
    /// Server-side encryption configuration (`enc.conf`).
    pub server_enc: Option<PathBuf>,
    /// Server certificate (`crt.pem`).
    pub server_crt: Option<PathBuf>,
    /// Server private key (`key.pem`).
    pub server_key: Option<PathBuf>,
    /// Client-side encryption configuration (`enc.conf`).
    pub client_enc: Option<PathBuf>,
    /// Client certificate (`crt.pem`).
    pub client_crt: Option<PathBuf>,
    /// Client private key (`key.pem`).
    pub client_key: Option<PathBuf>,
}

/// One of the six [`SecurityPaths`] fields, with its spelling in each syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityFile {
    /// `sencpath` / `server_enc_file`.
    ServerEnc,
    /// `scrtpath` / `server_crt_file`.
    ServerCrt,
    /// `skeypath` / `server_key_file`.
    ServerKey,
    /// `cencpath` / `client_enc_file`.
    ClientEnc,
    /// `ccrtpath` / `client_crt_file`.
    ClientCrt,
    /// `ckeypath` / `client_key_file`.
    ClientKey,
}

impl SecurityFile {
    /// All six, in the order `irm name create` lists them.
    pub const ALL: [SecurityFile; 6] = [
        SecurityFile::ServerEnc,
        SecurityFile::ServerCrt,
        SecurityFile::ServerKey,
        SecurityFile::ClientEnc,
        SecurityFile::ClientCrt,
        SecurityFile::ClientKey,
    ];

    /// The `irm name create` keyword.
    pub const fn cli_keyword(self) -> &'static str {
        match self {
            SecurityFile::ServerEnc => "sencpath",
            SecurityFile::ServerCrt => "scrtpath",
            SecurityFile::ServerKey => "skeypath",
            SecurityFile::ClientEnc => "cencpath",
            SecurityFile::ClientCrt => "ccrtpath",
            SecurityFile::ClientKey => "ckeypath",
        }
    }

    /// The `[name.<n>]` key.
    pub const fn toml_key(self) -> &'static str {
        match self {
            SecurityFile::ServerEnc => "server_enc_file",
            SecurityFile::ServerCrt => "server_crt_file",
            SecurityFile::ServerKey => "server_key_file",
            SecurityFile::ClientEnc => "client_enc_file",
            SecurityFile::ClientCrt => "client_crt_file",
            SecurityFile::ClientKey => "client_key_file",
        }
    }

    /// The default file name under `<security>/{server,client}/<name>/`.
    pub const fn default_file_name(self) -> &'static str {
        match self {
            SecurityFile::ServerEnc | SecurityFile::ClientEnc => "enc.conf",
            SecurityFile::ServerCrt | SecurityFile::ClientCrt => "crt.pem",
            SecurityFile::ServerKey | SecurityFile::ClientKey => "key.pem",
        }
    }
}

impl SecurityPaths {
    /// The slot of one file.
    pub fn slot(&mut self, file: SecurityFile) -> &mut Option<PathBuf> {
        match file {
            SecurityFile::ServerEnc => &mut self.server_enc,
            SecurityFile::ServerCrt => &mut self.server_crt,
            SecurityFile::ServerKey => &mut self.server_key,
            SecurityFile::ClientEnc => &mut self.client_enc,
            SecurityFile::ClientCrt => &mut self.client_crt,
            SecurityFile::ClientKey => &mut self.client_key,
        }
    }

    /// The path given for one file, if any.
    pub fn get(&self, file: SecurityFile) -> Option<&PathBuf> {
        match file {
            SecurityFile::ServerEnc => self.server_enc.as_ref(),
            SecurityFile::ServerCrt => self.server_crt.as_ref(),
            SecurityFile::ServerKey => self.server_key.as_ref(),
            SecurityFile::ClientEnc => self.client_enc.as_ref(),
            SecurityFile::ClientCrt => self.client_crt.as_ref(),
            SecurityFile::ClientKey => self.client_key.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_to_255_octets_of_visible_characters() {
        for good in ["oping", "ouroboros.rocks.oping", "a-b_c:d/e@f", "ωπινγ", "名前", "☃"] {
            assert_eq!(check_name(good), Ok(()), "{good:?}");
        }
        assert!(check_name(&"n".repeat(255)).is_ok());
        assert_eq!(
            check_name(&"n".repeat(256)),
            Err(ValueProblem::TooLong { len: 256, max: 255 })
        );
        // A 2-octet character counts as 2.
        assert!(check_name(&"é".repeat(128)).is_err());
        assert!(check_name("").is_err());
        for (bad, reason) in [
            ("a\0b", "contains a control character"),
            ("a\nb", "contains a control character"),
            ("red\x1b[31m", "contains a control character"),
            ("a\u{7f}", "contains a control character"),
            ("a\u{85}b", "contains a control character"),
            ("two words", "contains white space"),
            ("tab\u{3000}wide", "contains white space"),
            ("evil\u{202e}gnp.exe", "contains an invisible formatting character"),
            ("zero\u{200b}width", "contains an invisible formatting character"),
            ("\u{feff}bom", "contains an invisible formatting character"),
        ] {
            assert_eq!(
                check_name(bad),
                Err(ValueProblem::Invalid {
                    value: bad.to_owned(),
                    reason
                }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn load_balance_accepts_the_cli_and_the_file_spelling_of_spill() {
        assert_eq!("spillover".parse(), Ok(LoadBalance::Spill));
        assert_eq!("spill".parse(), Ok(LoadBalance::Spill));
        assert_eq!("round-robin".parse(), Ok(LoadBalance::RoundRobin));
        let err = "rr".parse::<LoadBalance>().unwrap_err().to_string();
        assert!(err.contains("\"rr\"") && err.contains("round-robin"), "{err}");
    }

    #[test]
    fn load_balance_defaults_differ_between_cli_and_file_as_in_c() {
        assert_eq!(LoadBalance::CLI_DEFAULT, LoadBalance::RoundRobin);
        assert_eq!(LoadBalance::FILE_DEFAULT, LoadBalance::Spill);
        assert_eq!(LoadBalance::RoundRobin.value(), 0);
        assert_eq!(LoadBalance::Spill.value(), 1);
    }

    #[test]
    fn every_security_file_has_a_slot_and_two_spellings() {
        let mut paths = SecurityPaths::default();
        for (i, file) in SecurityFile::ALL.into_iter().enumerate() {
            *paths.slot(file) = Some(PathBuf::from(format!("/p/{i}")));
            assert!(file.toml_key().ends_with("_file"));
            assert!(file.cli_keyword().ends_with("path"));
        }
        for (i, file) in SecurityFile::ALL.into_iter().enumerate() {
            assert_eq!(paths.get(file), Some(&PathBuf::from(format!("/p/{i}"))));
        }
    }
}
