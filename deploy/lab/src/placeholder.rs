//! Placeholders in command lines: `${<dotted path>}`, replaced before a
//! line runs, so that lab files never hard-code a generated name.
//!
//! | placeholder | value |
//! |---|---|
//! | `${lab.name}` | the lab's name |
//! | `${lab.instance}` | this run's instance (namespaces are `o7l-<instance>-<system>`) |
//! | `${lab.dir}` | the directory of the lab file |
//! | `${system.<s>.netns}` | system `<s>`'s network namespace |
//! | `${system.<s>.rundir}` | its irmd's runtime directory (its `O7S_RUNDIR`) |
//! | `${link.<l>.<s>.dev}` | the interface of link `<l>` in system `<s>` |
//! | `${link.<l>.<s>.ipv4}`, `.ipv6` | that interface's address, `10.0.0.1` |
//! | `${link.<l>.<s>.ipv4_cidr}`, `.ipv6_cidr` | with its prefix length, `10.0.0.1/24` |
//! | `${link.<l>.<s>.mac}` | its MAC address |
//!
//! Only `${…}` with a dot inside is a placeholder: a shell parameter name
//! never holds a dot, so `${HOME}` and `$1` reach the shell unchanged and
//! no escape is needed. A placeholder that names nothing in the lab is an
//! error when the file is read, not when the line runs.

use core::fmt;

/// What a placeholder names, checked for syntax only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder<'a> {
    /// `${lab.<field>}`.
    Lab(LabField),
    /// `${system.<s>.<field>}`.
    System {
        /// The system.
        system: &'a str,
        /// What of it.
        field: SystemField,
    },
    /// `${link.<l>.<s>.<field>}`.
    Link {
        /// The link.
        link: &'a str,
        /// The system at the end meant.
        system: &'a str,
        /// What of that end.
        field: EndField,
    },
}

/// `${lab.…}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabField {
    /// `name`.
    Name,
    /// `instance`.
    Instance,
    /// `dir`.
    Dir,
}

/// `${system.<s>.…}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemField {
    /// `netns`.
    Netns,
    /// `rundir`.
    Rundir,
}

/// `${link.<l>.<s>.…}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndField {
    /// `dev`.
    Dev,
    /// `ipv4`.
    Ipv4,
    /// `ipv4_cidr`.
    Ipv4Cidr,
    /// `ipv6`.
    Ipv6,
    /// `ipv6_cidr`.
    Ipv6Cidr,
    /// `mac`.
    Mac,
}

const LAB_FIELDS: &str = "name, instance, dir";
const SYSTEM_FIELDS: &str = "netns, rundir";
const END_FIELDS: &str = "dev, ipv4, ipv4_cidr, ipv6, ipv6_cidr, mac";

impl<'a> Placeholder<'a> {
    /// Reads the dotted path inside `${…}`.
    pub fn parse(path: &'a str) -> Result<Placeholder<'a>, String> {
        let parts: Vec<&str> = path.split('.').collect();
        match parts.as_slice() {
            ["lab", field] => Ok(Placeholder::Lab(match *field {
                "name" => LabField::Name,
                "instance" => LabField::Instance,
                "dir" => LabField::Dir,
                _ => return Err(format!("`${{{path}}}`: a lab has {LAB_FIELDS}")),
            })),
            ["system", system, field] => Ok(Placeholder::System {
                system,
                field: match *field {
                    "netns" => SystemField::Netns,
                    "rundir" => SystemField::Rundir,
                    _ => return Err(format!("`${{{path}}}`: a system has {SYSTEM_FIELDS}")),
                },
            }),
            ["link", link, system, field] => Ok(Placeholder::Link {
                link,
                system,
                field: match *field {
                    "dev" => EndField::Dev,
                    "ipv4" => EndField::Ipv4,
                    "ipv4_cidr" => EndField::Ipv4Cidr,
                    "ipv6" => EndField::Ipv6,
                    "ipv6_cidr" => EndField::Ipv6Cidr,
                    "mac" => EndField::Mac,
                    _ => return Err(format!("`${{{path}}}`: a link end has {END_FIELDS}")),
                },
            }),
            _ => Err(format!(
                "`${{{path}}}` is no placeholder: write ${{lab.<field>}}, ${{system.<system>.<field>}} \
                 or ${{link.<link>.<system>.<field>}}"
            )),
        }
    }
}

impl fmt::Display for EndField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EndField::Dev => "dev",
            EndField::Ipv4 => "ipv4",
            EndField::Ipv4Cidr => "ipv4_cidr",
            EndField::Ipv6 => "ipv6",
            EndField::Ipv6Cidr => "ipv6_cidr",
            EndField::Mac => "mac",
        })
    }
}

/// Replaces every placeholder in `text` by what `resolve` gives for it;
/// the first error stops.
pub fn expand(
    text: &str,
    mut resolve: impl FnMut(Placeholder<'_>) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if after[..end].contains('.') => {
                out.push_str(&resolve(Placeholder::parse(&after[..end])?)?);
                rest = &after[end + 1..];
            }
            Some(end) => {
                // A shell parameter: left as written.
                out.push_str(&rest[start..start + 2 + end + 1]);
                rest = &after[end + 1..];
            }
            None if after.contains('.') && !after.contains(char::is_whitespace) => {
                return Err(format!("`${{{after}` has no closing `}}`"));
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(p: Placeholder<'_>) -> Result<String, String> {
        Ok(match p {
            Placeholder::Lab(f) => format!("lab:{f:?}"),
            Placeholder::System { system, field } => format!("{system}:{field:?}"),
            Placeholder::Link { link, system, field } => format!("{link}/{system}/{field}"),
        })
    }

    #[test]
    fn placeholders_with_a_dot_are_replaced_and_shell_parameters_are_not() {
        assert_eq!(
            expand("ping -I ${link.ab.a.dev} ${link.ab.b.ipv4} # ${HOME} $1 ${#x}", fake),
            Ok("ping -I ab/a/dev ab/b/ipv4 # ${HOME} $1 ${#x}".to_owned())
        );
        assert_eq!(
            expand("${lab.instance}-${system.a.rundir}", fake),
            Ok("lab:Instance-a:Rundir".to_owned())
        );
        assert_eq!(
            expand("no placeholders, $ and { and }", fake),
            Ok("no placeholders, $ and { and }".to_owned())
        );
        assert_eq!(
            expand("awk '{print $1}' ${", fake),
            Ok("awk '{print $1}' ${".to_owned())
        );
    }

    #[test]
    fn a_malformed_placeholder_says_what_would_be_right() {
        for (text, says) in [
            ("${link.ab.a}", "is no placeholder"),
            ("${link.ab.a.speed}", "a link end has dev, ipv4"),
            ("${system.a.pid}", "a system has netns, rundir"),
            ("${lab.owner}", "a lab has name, instance, dir"),
            ("${link.ab.a.dev", "has no closing"),
            ("${a.b}", "is no placeholder"),
        ] {
            let err = expand(text, fake).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn the_first_resolution_error_stops_the_expansion() {
        let err = expand("${link.ab.a.dev} ${link.cd.a.dev}", |p| match p {
            Placeholder::Link { link: "cd", .. } => Err("no link cd".to_owned()),
            other => fake(other),
        });
        assert_eq!(err, Err("no link cd".to_owned()));
    }
}
