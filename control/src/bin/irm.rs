//! irm: configure the o7s IPC Resource Manager (the C prototype's command
//! language: `irm ipcp bootstrap …`, `irm bind program …`, `irm name
//! register …`, with every keyword abbreviable to a prefix).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use o7s_app::Admin;
use o7s_control::irm_cli::Command;

/// `irm bind program` takes a program name or path; irmd needs the file
/// that runs, as the C irm resolves it: a name without a slash is looked up
/// in PATH, and the result made absolute and canonical.
fn resolve_program(path: &Path) -> Result<PathBuf, String> {
    let candidate = if path.components().count() == 1 && !path.as_os_str().to_string_lossy().contains('/') {
        std::env::var_os("PATH")
            .and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(path))
                    .find(|p| p.is_file())
            })
            .ok_or_else(|| format!("program {} not found in PATH", path.display()))?
    } else {
        path.to_owned()
    };
    candidate
        .canonicalize()
        .map_err(|e| format!("program {}: {e}", candidate.display()))
}

/// The command line as strings: names travel to irmd as UTF-8, so an
/// argument that is not is refused here, naming it.
fn utf8_args() -> Result<Vec<String>, String> {
    std::env::args_os()
        .skip(1)
        .enumerate()
        .map(|(i, a)| {
            a.into_string()
                .map_err(|a| format!("irm: argument {} ({a:?}) is not valid UTF-8", i + 1))
        })
        .collect()
}

fn main() -> ExitCode {
    let mut argv = match utf8_args() {
        Ok(argv) => argv,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // `--help` anywhere, as operators type it, is the help of what precedes
    // (not after `--`: those are a program's arguments).
    let options_end = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
    if let Some(at) = argv[..options_end].iter().position(|a| a == "--help" || a == "-h") {
        argv.truncate(at);
        argv.push("help".into());
    }
    let words: Vec<&str> = argv.iter().map(String::as_str).collect();
    let command = match Command::parse(&words) {
        Ok(c) => c,
        Err(e) => {
            // The message starts with the command it is about ("irm ipcp …").
            eprintln!("{e}");
            eprintln!("{}", o7s_control::irm_cli::help(e.topic()));
            return ExitCode::FAILURE;
        }
    };
    match &command {
        Command::Help { topic } => {
            println!("{}", o7s_control::irm_cli::help(*topic));
            return ExitCode::SUCCESS;
        }
        Command::BindProgram { path, .. } | Command::UnbindProgram { path, .. } => {
            let resolved = match resolve_program(path) {
                Ok(p) => p,
                Err(e) if matches!(command, Command::UnbindProgram { .. }) => {
                    // Unbinding a program that is gone must still work.
                    let _ = e;
                    path.clone()
                }
                Err(e) => {
                    eprintln!("irm: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let typed = path.to_string_lossy();
            if let Some(word) = argv.iter_mut().skip(2).find(|w| **w == typed) {
                *word = resolved.to_string_lossy().into_owned();
            }
        }
        _ => {}
    }
    let mut admin = match Admin::connect(&o7s_app::rundir::dir()) {
        Ok(admin) => admin,
        Err(e) => {
            eprintln!("irm: {e}");
            return ExitCode::FAILURE;
        }
    };
    match admin.command(&argv) {
        Ok(text) => {
            if !text.is_empty() {
                print!("{text}");
                if !text.ends_with('\n') {
                    println!();
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("irm: {e}");
            ExitCode::FAILURE
        }
    }
}
