//! The lab file format: what it accepts, and the errors, each naming the
//! line, table and key.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::topology::values::Percent;

const PAIR: &str = r#"
[lab]
name = "pair"
description = "two systems"

[systems.a]
setup = ["irm ipcp bootstrap type local name lo layer lo", "name register oping layer lo"]
irmd_args = ["--buffers", "4096"]

[systems.b]
config = "irmd/b.toml"

[[links]]
name = "ab"
mtu = 1400
ends.a = { ipv4 = "10.0.0.1/24", ipv6 = "fd00::1/64", netem = { delay = "10ms", jitter = "1ms", loss = "1%" } }
ends.b = { dev = "eth0", ipv4 = "10.0.0.2/24" }

[[steps]]
name = "server"
on = "b"
run = "oping -l"
background = true

[[steps]]
on = "a"
run = "ping -c 1 ${link.ab.b.ipv4}"
eventually = "5s"
interval = "100ms"
expect = { status = 0, stdout_contains = "1 received", stdout_regex = ['^rtt', 'time=\d'] }

[[steps]]
sleep = "1s"

[[steps]]
wait = "server"
timeout = "3s"
"#;

fn parse(text: &str) -> Result<Topology, TopologyError> {
    Topology::parse(text, "stem", Path::new("/labs"))
}

/// The error for `text`, as displayed.
fn error(text: &str) -> String {
    parse(text).expect_err("refused").to_string()
}

#[test]
fn a_complete_file_reads_into_systems_links_and_steps() {
    let t = parse(PAIR).unwrap();
    assert_eq!(
        (t.name.as_str(), t.description.as_deref()),
        ("pair", Some("two systems"))
    );
    assert_eq!(
        t.systems.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let a = &t.systems[0];
    assert_eq!(a.setup[0][..2], ["ipcp", "bootstrap"], "the leading irm is dropped");
    assert_eq!(a.setup[1][0], "name", "and may be left out");
    assert_eq!(a.irmd_args, ["--buffers", "4096"]);
    assert_eq!(t.systems[1].config.as_deref(), Some(Path::new("/labs/irmd/b.toml")));

    let link = &t.links[0];
    assert_eq!((link.name.as_str(), link.mtu), ("ab", Some(1400)));
    let [ea, eb] = &link.ends;
    assert_eq!(
        (ea.system.as_str(), ea.dev.as_str()),
        ("a", "ab"),
        "named after the link"
    );
    assert_eq!((eb.system.as_str(), eb.dev.as_str()), ("b", "eth0"));
    let netem = ea.netem.as_ref().unwrap();
    assert_eq!(netem.loss, Some(Percent(1.0)));
    assert_eq!(netem.to_string(), "delay 10000us 1000us loss 1%");
    assert!(eb.netem.is_none());
    assert!(t.uses_netem());

    assert_eq!(
        t.steps.iter().map(|s| s.label.as_str()).collect::<Vec<_>>(),
        ["server", "2", "3", "4"]
    );
    let Action::Run(run) = &t.steps[1].action else {
        panic!("a run step")
    };
    assert_eq!(run.eventually, Some(Duration::from_secs(5)));
    assert_eq!(run.interval, Duration::from_millis(100));
    assert_eq!(run.timeout, DEFAULT_TIMEOUT);
    assert_eq!((run.expect.stdout.len(), run.expect.stderr.len()), (3, 0));
    assert!(matches!(t.steps[2].action, Action::Sleep(d) if d == Duration::from_secs(1)));
    assert!(
        matches!(&t.steps[3].action, Action::Wait { step, timeout } if step == "server" && *timeout == Duration::from_secs(3))
    );
}

#[test]
fn the_lab_is_named_after_its_file_without_a_lab_table() {
    let t = parse("[systems.a]\n").unwrap();
    assert_eq!(t.name, "stem");
    assert!(t.links.is_empty() && t.steps.is_empty());
    assert!(!t.uses_netem());
}

#[test]
fn systems_keep_file_order() {
    let t = parse("[systems.zulu]\n[systems.alpha]\n[systems.mike]\n").unwrap();
    assert_eq!(
        t.systems.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["zulu", "alpha", "mike"]
    );
}

#[test]
fn unknown_keys_are_errors_naming_line_table_and_key() {
    for (text, says) in [
        (
            "[systems.a]\nsetpu = []\n",
            "line 2: [systems.a]: unknown field `setpu`, expected one of `setup`",
        ),
        (
            "[lab]\nnmae = \"x\"\n[systems.a]\n",
            "line 2: [lab]: unknown field `nmae`",
        ),
        (
            "[systems.a]\n[systems.b]\n[[links]]\nends.a = { netem = { delya = \"1ms\" } }\nends.b = {}\n",
            "line 4: [[links]] #1: unknown field `delya`, expected one of `delay`",
        ),
        (
            "[systems.a]\n[[steps]]\non = \"a\"\nrun = \"true\"\n[[steps]]\non = \"a\"\nrnu = \"x\"\n",
            "line 7: [[steps]] #2: unknown field `rnu`",
        ),
        (
            "[system.a]\n",
            "unknown field `system`, expected one of `lab`, `systems`, `links`, `steps`",
        ),
    ] {
        let err = error(text);
        assert!(err.contains(says), "{text}\n=> {err}");
    }
}

#[test]
fn bad_values_are_errors_naming_the_key() {
    let base = "[systems.a]\n[systems.b]\n[[links]]\n";
    for (text, says) in [
        (format!("{base}ends.a = {{ ipv4 = \"10.0.0.1\" }}\nends.b = {{}}\n"), "has no prefix length"),
        (format!("{base}ends.a = {{ ipv4 = \"fd00::1/64\" }}\nends.b = {{}}\n"), "`ends.a.ipv4`: fd00::1/64 is not an ipv4 address"),
        (format!("{base}ends.a = {{ netem = {{ delay = 10 }} }}\nends.b = {{}}\n"), "a duration with its unit"),
        (format!("{base}ends.a = {{ netem = {{ delay = \"10 parsecs\" }} }}\nends.b = {{}}\n"), "unknown unit"),
        (format!("{base}ends.a = {{ netem = {{ loss = \"120%\" }} }}\nends.b = {{}}\n"), "not a percentage from 0 to 100"),
        (format!("{base}ends.a = {{ netem = {{ rate = \"fast\" }} }}\nends.b = {{}}\n"), "not a rate"),
        (format!("{base}ends.a = {{ netem = {{ jitter = \"1ms\" }} }}\nends.b = {{}}\n"), "`jitter` needs a `delay`"),
        (format!("{base}ends.a = {{ netem = {{ reorder = \"5%\" }} }}\nends.b = {{}}\n"), "`reorder` needs a `delay`"),
        (format!("{base}mtu = 20\nends.a = {{}}\nends.b = {{}}\n"), "`mtu`: 20 is not from 68 to 65535"),
        (format!("{base}ends.a = {{ dev = \"a-very-long-interface\" }}\nends.b = {{}}\n"), "1 to 15 bytes (IFNAMSIZ)"),
        (format!("{base}ends.a = {{ dev = \"lo\" }}\nends.b = {{}}\n"), "not an interface name"),
        (format!("{base}ends.a = {{}}\n"), "a link joins two different systems"),
        (format!("{base}ends.a = {{}}\nends.c = {{}}\n"), "`ends.c`: no such system (systems: a, b)"),
        (
            format!("{base}ends.a = {{}}\nends.b = {{}}\n[[links]]\nends.a = {{}}\nends.b = {{}}\n"),
            "two links are called \"a-b\"",
        ),
        (
            format!("{base}name = \"x\"\nends.a = {{}}\nends.b = {{}}\n[[links]]\nname = \"y\"\nends.a = {{ dev = \"x\" }}\nends.b = {{}}\n"),
            "link \"x\" already has interface \"x\" in a",
        ),
        (
            "[systems.long-system-name]\n[systems.another-long-one]\n[[links]]\nends.long-system-name = {}\nends.another-long-one = {}\n".to_owned(),
            "the interface is named after the link",
        ),
        ("[systems.\"a.b\"]\n".to_owned(), "system \"a.b\" must be 1 to 32 letters"),
        ("[lab]\nname = \"my lab\"\n[systems.a]\n".to_owned(), "`name`: the lab name \"my lab\""),
        ("[systems.a]\nsetup = [\"irm\"]\n".to_owned(), "`setup`: an empty line"),
        ("[systems.a]\nirmd_args = [\"--rundir\", \"/x\"]\n".to_owned(), "--rundir is set by o7s-lab"),
        ("[lab]\nname = \"x\"\n".to_owned(), "the lab has no systems"),
        ("[systems.a\n".to_owned(), "line 1"),
    ] {
        let err = error(&text);
        assert!(err.contains(says), "{text}\n=> {err}");
    }
}

#[test]
fn steps_are_checked_against_the_systems_and_each_other() {
    let base = "[systems.a]\n";
    for (steps, says) in [
        ("[[steps]]\nrun = \"true\"\n", "`run` needs `on = \"<system>\"`"),
        (
            "[[steps]]\non = \"b\"\nrun = \"true\"\n",
            "`on`: no system \"b\" (systems: a)",
        ),
        (
            "[[steps]]\non = \"a\"\n",
            "exactly one of `run`, `sleep` or `wait` (found none)",
        ),
        (
            "[[steps]]\nrun = \"x\"\nsleep = \"1s\"\non = \"a\"\n",
            "(found run, sleep)",
        ),
        ("[[steps]]\nsleep = \"1s\"\non = \"a\"\n", "`on` is for `run` steps"),
        (
            "[[steps]]\non = \"a\"\nrun = \"x\"\nbackground = true\ntimeout = \"1s\"\n",
            "`timeout` is for steps that run to their end",
        ),
        (
            "[[steps]]\non = \"a\"\nrun = \"x\"\ninterval = \"1s\"\n",
            "`interval` is the pause between tries",
        ),
        (
            "[[steps]]\nwait = \"srv\"\n",
            "`wait`: no earlier step is called \"srv\"",
        ),
        (
            "[[steps]]\nname = \"srv\"\non = \"a\"\nrun = \"x\"\n[[steps]]\nwait = \"srv\"\n",
            "step \"srv\" is not a background step",
        ),
        (
            "[[steps]]\nname = \"srv\"\non = \"a\"\nrun = \"x\"\nbackground = true\n[[steps]]\nwait = \"srv\"\nexpect = { status = 0 }\n",
            "checks the `expect` of the background step",
        ),
        (
            "[[steps]]\nname = \"s\"\nsleep = \"1s\"\n[[steps]]\nname = \"s\"\nsleep = \"1s\"\n",
            "two steps are called \"s\"",
        ),
        (
            "[[steps]]\nname = \"7\"\nsleep = \"1s\"\n",
            "a number would read as another step's number",
        ),
        (
            "[[steps]]\non = \"a\"\nrun = \"x\"\nexpect = { stdout_regex = \"(\" }\n",
            "`expect.stdout_regex`: regex parse error",
        ),
        (
            "[[steps]]\non = \"a\"\nrun = \"x\"\nexpect = { status = 300 }\n",
            "an exit code 0 to 255",
        ),
        (
            "[[steps]]\non = \"a\"\nrun = \"x\"\nexpect = { stdout = \"y\" }\n",
            "unknown field `stdout`, expected one of `status`, `stdout_contains`",
        ),
        ("[[steps]]\non = \"a\"\nrun = \"   \"\n", "`run`: an empty command line"),
    ] {
        let err = error(&format!("{base}{steps}"));
        assert!(err.contains(says), "{steps}\n=> {err}");
    }
}

#[test]
fn placeholders_must_name_what_the_lab_has() {
    let base = "[systems.a]\n[systems.b]\n[[links]]\nname = \"ab\"\nends.a = { ipv4 = \"10.0.0.1/24\" }\nends.b = {}\n";
    let ok = format!(
        "{base}[[steps]]\non = \"a\"\nrun = \"ip -n ${{system.b.netns}} link; ping ${{link.ab.a.ipv4_cidr}} ${{link.ab.b.mac}} $HOME ${{HOME}}\"\nexpect = {{ stdout_contains = \"${{link.ab.a.ipv4}}\" }}\n"
    );
    parse(&ok).unwrap();
    for (line, says) in [
        (
            "ping ${link.ab.b.ipv4}",
            "[[steps]] #1: `run`: link \"ab\" gives system \"b\" no ipv4 address",
        ),
        ("ping ${link.cd.a.dev}", "no link \"cd\" in [[links]]"),
        ("ping ${link.ab.c.dev}", "link \"ab\" has no end in system \"c\""),
        ("ping ${system.c.netns}", "no system \"c\" in [systems]"),
        ("ping ${link.ab.a.speed}", "a link end has dev, ipv4"),
    ] {
        let err = error(&format!("{base}[[steps]]\non = \"a\"\nrun = \"{line}\"\n"));
        assert!(err.contains(says), "{line}\n=> {err}");
    }
    let err = error(&format!(
        "{base}[systems.c]\nsetup = [\"irm ipcp bootstrap type eth-dix name e layer e dev ${{link.ab.c.dev}}\"]\n"
    ));
    assert!(
        err.contains("[systems.c]: `setup`: link \"ab\" has no end in system \"c\""),
        "{err}"
    );
    let err = error(&format!(
        "{base}[[steps]]\non = \"a\"\nrun = \"true\"\nexpect = {{ stdout_contains = \"${{link.ab.b.ipv6}}\" }}\n"
    ));
    assert!(
        err.contains("`expect`: link \"ab\" gives system \"b\" no ipv6 address"),
        "{err}"
    );
}

#[test]
fn placeholders_expand_to_the_file_s_values_and_the_runtime_s() {
    let t = parse(PAIR).unwrap();
    let expand = |s: &str| t.expand(s, &Unknown).unwrap();
    assert_eq!(expand("${link.ab.a.dev} ${link.ab.b.dev}"), "ab eth0");
    assert_eq!(
        expand("${link.ab.a.ipv4} ${link.ab.a.ipv6_cidr}"),
        "10.0.0.1 fd00::1/64"
    );
    assert_eq!(
        expand("${lab.name} ${lab.dir} ${lab.instance}"),
        "pair /labs <instance>"
    );
    assert_eq!(expand("${system.b.rundir}"), "<rundir of b>");
}
