//! Every example printed in an `irm` help text parses, and leads to the
//! command (or a command of the group) the text is about.

use o7s_control::irm_cli::{Command, HelpTopic, help};

/// The example lines of a rendered help text: the indented `irm …` lines
/// after `Examples:`.
fn examples_in(text: &str) -> Vec<&str> {
    text.lines()
        .skip_while(|l| *l != "Examples:")
        .skip(1)
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| l.starts_with("irm "))
        .collect()
}

#[test]
fn every_example_in_every_help_text_parses() {
    let mut count = 0;
    for topic in HelpTopic::ALL {
        let text = help(topic);
        let examples = examples_in(&text);
        assert_eq!(
            examples.len(),
            topic.examples().len(),
            "{topic}: examples not all rendered"
        );
        for line in examples {
            let words: Vec<&str> = line.split_whitespace().skip(1).collect();
            if let Err(e) = Command::parse(&words) {
                panic!("help for `{topic}` shows `{line}`, which is refused: {e}");
            }
            count += 1;
        }
    }
    assert!(count >= 40, "only {count} examples");
}

#[test]
fn every_command_example_is_an_example_of_that_command() {
    for topic in HelpTopic::ALL {
        for line in topic.examples() {
            let words: Vec<&str> = line.split_whitespace().skip(1).collect();
            let command = Command::parse(&words).expect("parses");
            let expected = match topic {
                HelpTopic::Irm | HelpTopic::Ipcp | HelpTopic::Bind | HelpTopic::Unbind | HelpTopic::Name => continue,
                _ => topic.command(),
            };
            // The parsed command, named the way the help names commands.
            let got = match command {
                Command::IpcpCreate { .. } => "irm ipcp create",
                Command::IpcpDestroy { .. } => "irm ipcp destroy",
                Command::IpcpBootstrap(_) => "irm ipcp bootstrap",
                Command::IpcpEnroll { .. } => "irm ipcp enroll",
                Command::IpcpConnect { .. } => "irm ipcp connect",
                Command::IpcpDisconnect { .. } => "irm ipcp disconnect",
                Command::IpcpList { .. } => "irm ipcp list",
                Command::IpcpStats { .. } => "irm ipcp stats",
                Command::BindProgram { .. } => "irm bind program",
                Command::BindProcess { .. } => "irm bind process",
                Command::BindIpcp { .. } => "irm bind ipcp",
                Command::UnbindProgram { .. } => "irm unbind program",
                Command::UnbindProcess { .. } => "irm unbind process",
                Command::UnbindIpcp { .. } => "irm unbind ipcp",
                Command::NameCreate { .. } => "irm name create",
                Command::NameDestroy { .. } => "irm name destroy",
                Command::NameRegister { .. } => "irm name register",
                Command::NameUnregister { .. } => "irm name unregister",
                Command::NameList => "irm name list",
                Command::Help { .. } => "irm help",
            };
            assert_eq!(got, expected, "`{line}` shown under {topic}");
        }
    }
}
