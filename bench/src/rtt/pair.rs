//! The lab pair (`bench/labs/rtt-pair.toml`, brought up with the o7s-lab
//! library) and what is measured across it, in this order:
//!
//! ```text
//!  Lab::up: namespaces a and b, veth ab (10.79.0.1 ── 10.79.0.2), an irmd in each
//!           with a udp4 layer from its file; b binds oping to oping.udp and oping.eth
//!  1. UDP over veth    udp-echo in b (ip netns exec), this process's socket opened in a
//!  2. oping -l in b; o7s udp4: oping in a to oping.udp
//!  3. irm ipcp bootstrap type eth-dix in a and b (its XDP program now on both ends),
//!     oping.eth registered in b; o7s eth-dix: oping in a to oping.eth
//!  Drop: the server and the echo, then the lab (Lab's own teardown)
//! ```
//!
//! The kernel's UDP (1, 2) runs before the eth-dix shim attaches its XDP
//! program to the veth: the baseline is the bare veth, as a system without
//! o7s would have it. A Ctrl-C or an error tears the lab down on the way out
//! (the [`Lab`] is dropped); after a kill -9, `o7s-lab cleanup` removes it.

use std::net::{IpAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use o7s_lab::bins::Bins;
use o7s_lab::lab::{is_root, system_env};
use o7s_lab::process::SystemEnv;
use o7s_lab::report::{Report, Stream, output_line};
use o7s_lab::{Lab, LabError, Options, Topology};
use o7s_netns::KillOnDrop;

use super::local::{binary, wait_for};
use super::{Bench, Result, Row, Transport, oping, udp};
use crate::fwd::Unprepared;

const LAB: &str = include_str!("../../labs/rtt-pair.toml");
const IRMD_A: &str = include_str!("../../labs/irmd/rtt-pair-a.toml");
const IRMD_B: &str = include_str!("../../labs/irmd/rtt-pair-b.toml");
/// The link's name in the lab file.
const LINK: &str = "ab";
/// The server's names in each layer.
const UDP4_NAME: &str = "oping.udp";
const ETH_NAME: &str = "oping.eth";
/// How long a layer has to answer a first oping.
const READY: Duration = Duration::from_secs(15);

/// The lab's progress lines on stderr: stdout is the table's.
struct Progress;

impl Report for Progress {
    fn progress(&self, line: &str) {
        eprintln!("{line}");
    }

    fn output(&self, system: &str, step: &str, stream: Stream, line: &str) {
        eprintln!("{}", output_line(system, step, stream, line));
    }
}

/// The lab files, written for one run and removed after it.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The pair, up. Fields drop in order: processes in the namespaces, the
/// lab, then its files.
struct Pair {
    server: Option<KillOnDrop>,
    lab: Lab,
    topology: Topology,
    bins: Bins,
    oping: PathBuf,
    irm: PathBuf,
    _scratch: Scratch,
}

/// Whether the pair can be brought up: it needs root.
pub(super) fn check() -> Result<()> {
    if !is_root() {
        return Err(Unprepared(
            "eth-dix, udp4 and veth run between two network namespaces, which needs root \
             (run it with sudo, or measure the rest with --only local,loopback)"
                .into(),
        )
        .into());
    }
    Ok(())
}

/// Measures every transport of the pair that `bench` wants, adding rows
/// and notes (the eth-dix port's backend).
pub(super) fn measure(bench: &Bench, rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<()> {
    check()?;
    let mut pair = Pair::up(bench)?;
    if bench.wants(Transport::Veth) {
        let (sock, _echo) = pair.udp_socket(bench)?;
        for pattern in bench.patterns() {
            rows.push(udp::measure(&sock, Transport::Veth, pattern, bench)?);
        }
    }
    if bench.wants(Transport::Udp4) {
        pair.start_server(bench)?;
        pair.ready(UDP4_NAME, bench)?;
        for pattern in bench.patterns() {
            rows.push(oping::measure(pair.oping(UDP4_NAME)?, Transport::Udp4, pattern, bench)?);
        }
    }
    if bench.wants(Transport::EthDix) {
        pair.add_eth_dix()?;
        notes.push(format!("eth-dix port in a: {}", pair.eth_dix_backend()));
        pair.start_server(bench)?;
        pair.ready(ETH_NAME, bench)?;
        for pattern in bench.patterns() {
            rows.push(oping::measure(
                pair.oping(ETH_NAME)?,
                Transport::EthDix,
                pattern,
                bench,
            )?);
        }
    }
    Ok(())
}

fn lab_error(e: LabError) -> Box<dyn std::error::Error> {
    match e {
        LabError::NotRoot => Unprepared(e.to_string()).into(),
        e => format!("the lab pair: {e}").into(),
    }
}

impl Pair {
    fn up(bench: &Bench) -> Result<Pair> {
        let irmd = binary("o7s-control", "irmd")?;
        let irm = binary("o7s-control", "irm")?;
        let oping = binary("o7s-oping", "oping")?;
        let dir = std::env::temp_dir().join(format!("o7s-bench-rtt-pair-{}", std::process::id()));
        let scratch = Scratch(dir.clone());
        std::fs::create_dir_all(dir.join("irmd"))?;
        let file = dir.join("rtt-pair.toml");
        std::fs::write(&file, LAB)?;
        std::fs::write(dir.join("irmd/rtt-pair-a.toml"), IRMD_A)?;
        std::fs::write(dir.join("irmd/rtt-pair-b.toml"), IRMD_B)?;
        let mut topology = Topology::load(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        if let Some(spin) = &bench.args.spin {
            for system in &mut topology.systems {
                system.irmd_args.extend(["--spin".to_owned(), spin.clone()]);
            }
        }
        let bins = Bins::in_dir(irmd.parent().map(Path::to_path_buf));
        let mut options = Options::new(Arc::new(Progress));
        options.bins = bins.clone();
        options.instance = Some(format!("{}-{}", topology.name, std::process::id()));
        options.stop = Arc::clone(&bench.stop);
        let lab = Lab::up(topology.clone(), &file, options).map_err(lab_error)?;
        Ok(Pair {
            server: None,
            lab,
            topology,
            bins,
            oping,
            irm,
            _scratch: scratch,
        })
    }

    fn env(&self, system: &str) -> Result<SystemEnv> {
        let state = self.lab.state().ok_or("the lab is down")?;
        let s = state
            .system(system)
            .ok_or_else(|| format!("the lab has no system {system}"))?;
        Ok(system_env(state, s, &self.bins))
    }

    fn ipv4(&self, system: &str) -> Result<IpAddr> {
        self.topology
            .end(LINK, system)
            .and_then(|e| e.ipv4)
            .map(|a| a.addr)
            .ok_or_else(|| format!("link {LINK} has no IPv4 address in {system}").into())
    }

    fn dev(&self, system: &str) -> Result<String> {
        self.topology
            .end(LINK, system)
            .map(|e| e.dev.clone())
            .ok_or_else(|| format!("link {LINK} has no end in {system}").into())
    }

    /// The UDP echo in b, and a socket opened in a's namespace (on a
    /// thread that joins it; the socket stays there) connected to it.
    fn udp_socket(&self, bench: &Bench) -> Result<(UdpSocket, KillOnDrop)> {
        let (a, b) = (self.ipv4("a")?, self.ipv4("b")?);
        let echo = self.env("b")?.command(std::env::current_exe()?);
        let (echo, port) = udp::start_echo(echo, b, bench)?;
        let netns = self.env("a")?.netns;
        let sock = std::thread::scope(|s| {
            s.spawn(|| -> std::io::Result<UdpSocket> {
                o7s_netns::join_named(&netns)?;
                let sock = UdpSocket::bind((a, 0))?;
                sock.connect((b, port))?;
                Ok(sock)
            })
            .join()
        })
        .map_err(|_| "opening a socket in a panicked")??;
        Ok((sock, echo))
    }

    /// `oping -l -Q` in b, once: it serves both layers' names.
    fn start_server(&mut self, bench: &Bench) -> Result<()> {
        if self.server.is_some() {
            return Ok(());
        }
        let mut server = self.env("b")?.command(&self.oping);
        server.args(["-l", "-Q"]).stdin(Stdio::null()).stdout(Stdio::null());
        self.server = Some(KillOnDrop::spawn(&mut server)?);
        let rundir = self.env("b")?.rundir;
        wait_for("the oping server in b", Duration::from_secs(10), bench, || {
            o7s_app::Admin::connect(&rundir)
                .and_then(|mut a| a.status())
                .is_ok_and(|s| !s.processes.is_empty())
        })
    }

    /// An oping client in a, to `name`.
    fn oping(&self, name: &str) -> Result<Command> {
        let mut cmd = self.env("a")?.command(&self.oping);
        cmd.args(["-n", name]);
        Ok(cmd)
    }

    /// Waits until a ping to `name` comes back: the first name query may
    /// miss irmd's wait for answers (the reply is still cached).
    fn ready(&self, name: &str, bench: &Bench) -> Result<()> {
        let mut last = String::new();
        let result = wait_for(&format!("a flow to {name}"), READY, bench, || {
            let out = self
                .oping(name)
                .and_then(|mut c| Ok(c.args(["-c", "1", "-Q"]).stdin(Stdio::null()).output()?));
            match out {
                Ok(out) if out.status.success() => true,
                Ok(out) => {
                    last = format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    );
                    false
                }
                Err(e) => {
                    last = e.to_string();
                    false
                }
            }
        });
        result.map_err(|e| format!("{e}; the last try said: {}", last.trim()).into())
    }

    fn irm(&self, system: &str, args: &[&str]) -> Result<()> {
        let out = self
            .env(system)?
            .command(&self.irm)
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "{system}: irm {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        Ok(())
    }

    /// An eth-dix layer on the veth in both systems, oping.eth in b.
    fn add_eth_dix(&self) -> Result<()> {
        for system in ["a", "b"] {
            let dev = self.dev(system)?;
            let name = format!("dix.{system}");
            self.irm(
                system,
                &[
                    "ipcp",
                    "bootstrap",
                    "type",
                    "eth-dix",
                    "name",
                    &name,
                    "layer",
                    "eth",
                    "dev",
                    &dev,
                ],
            )?;
        }
        self.irm("b", &["name", "register", ETH_NAME, "layer", "eth"])
    }

    /// What a's irmd logged about the eth-dix port it opened: the backend
    /// (AF_XDP copy or zero-copy, or AF_PACKET), ring sizes, XDP mode.
    fn eth_dix_backend(&self) -> String {
        let dev = self.dev("a").unwrap_or_default();
        let log = self
            .lab
            .state()
            .and_then(|s| s.system("a"))
            .map(|s| std::fs::read_to_string(s.log()).unwrap_or_default())
            .unwrap_or_default();
        let port = format!("port={dev} ");
        log.lines()
            .filter(|l| l.contains("shim port open") && l.contains(&port))
            .find_map(|l| {
                l.split_once("backend=")
                    .map(|(_, b)| b.split(" mtu=").next().unwrap_or(b).to_owned())
            })
            .unwrap_or_else(|| "not in irmd's log".to_owned())
    }
}
