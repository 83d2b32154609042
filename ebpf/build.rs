//! Compiles the XDP programs in `bpf/` with clang for the BPF target into
//! `OUT_DIR/<name>.bpf.o`; `src/` embeds them with `include_bytes_aligned!`.
//!
//! clang is `$O7S_CLANG` if set, else `clang-19`, else `clang` when it is
//! version 14 or newer (older ones emit BTF that the loader cannot relocate).
//! Missing tools are build errors that name the Debian packages to install.

use std::{
    env,
    path::{Path, PathBuf},
    process::Command,
};

/// The programs, compiled one object each.
const PROGRAMS: &[&str] = &["steer", "redirect"];
/// Headers the programs include from `bpf/`.
const HEADERS: &[&str] = &["o7s_abi.h"];
const APT_HINT: &str = "install it with `apt-get install clang-19 libbpf-dev` \
                        (or set O7S_CLANG to a clang >= 14)";
const MIN_CLANG: u32 = 14;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    let bpf_dir = manifest_dir.join("bpf");

    println!("cargo::rerun-if-env-changed=O7S_CLANG");
    for header in HEADERS {
        println!("cargo::rerun-if-changed={}", bpf_dir.join(header).display());
    }

    let clang = find_clang();
    let includes = system_includes();
    check_libbpf_headers(&includes);

    for program in PROGRAMS {
        let source = bpf_dir.join(format!("{program}.bpf.c"));
        let object = out_dir.join(format!("{program}.bpf.o"));
        println!("cargo::rerun-if-changed={}", source.display());
        compile(&clang, &includes, &bpf_dir, &source, &object);
    }
}

/// The clang to use, or a build error naming the packages to install.
fn find_clang() -> PathBuf {
    if let Some(clang) = env::var_os("O7S_CLANG").filter(|c| !c.is_empty()) {
        let clang = PathBuf::from(clang);
        match clang_major(&clang) {
            Some(major) if major >= MIN_CLANG => return clang,
            Some(major) => panic!(
                "O7S_CLANG={} is clang {major}; the BPF programs need clang >= {MIN_CLANG}: {APT_HINT}",
                clang.display()
            ),
            None => panic!(
                "O7S_CLANG={} does not run as clang (`--version` failed): {APT_HINT}",
                clang.display()
            ),
        }
    }
    if clang_major(Path::new("clang-19")).is_some() {
        return PathBuf::from("clang-19");
    }
    match clang_major(Path::new("clang")) {
        Some(major) if major >= MIN_CLANG => PathBuf::from("clang"),
        Some(major) => panic!(
            "no clang-19 on PATH and `clang` is version {major}; the o7s XDP programs need \
             clang >= {MIN_CLANG}: {APT_HINT}"
        ),
        None => panic!(
            "no clang found (tried clang-19 and clang): the o7s XDP programs are C compiled \
             for the BPF target; {APT_HINT}"
        ),
    }
}

/// The major version `clang --version` reports, `None` if it does not run.
fn clang_major(clang: &Path) -> Option<u32> {
    let output = Command::new(clang).arg("--version").output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    // "Debian clang version 19.1.7 (...)", "clang version 14.0.6", ...
    let version = text.split("clang version ").nth(1)?;
    version.split('.').next()?.trim().parse().ok()
}

/// The system include directories: the generic one and Debian's multiarch
/// one, where `asm/types.h` (needed by `linux/types.h`) lives.
fn system_includes() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let multiarch = match env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("x86_64") => Some("x86_64-linux-gnu"),
        Ok("aarch64") => Some("aarch64-linux-gnu"),
        Ok("riscv64") => Some("riscv64-linux-gnu"),
        Ok("powerpc64") => Some("powerpc64le-linux-gnu"),
        Ok("s390x") => Some("s390x-linux-gnu"),
        _ => None,
    };
    if let Some(triple) = multiarch {
        let dir = PathBuf::from("/usr/include").join(triple);
        if dir.is_dir() {
            dirs.push(dir);
        }
    }
    dirs
}

/// `bpf/bpf_helpers.h` comes from libbpf-dev; without it clang's error would
/// not say which package is missing.
fn check_libbpf_headers(includes: &[PathBuf]) {
    let found = ["/usr/include", "/usr/local/include"]
        .iter()
        .map(PathBuf::from)
        .chain(includes.iter().cloned())
        .any(|dir| dir.join("bpf/bpf_helpers.h").is_file());
    if !found {
        panic!(
            "bpf/bpf_helpers.h not found in /usr/include: the o7s XDP programs use libbpf's \
             helper definitions; {APT_HINT}"
        );
    }
}

fn compile(clang: &Path, includes: &[PathBuf], bpf_dir: &Path, source: &Path, object: &Path) {
    let mut command = Command::new(clang);
    // -g: BTF for the maps (the loader reads the map definitions from it);
    // -O2: the verifier needs the bounds checks kept next to the accesses.
    command.args(["-g", "-O2", "-Wall", "-target", "bpf"]);
    command.arg("-I").arg(bpf_dir);
    for dir in includes {
        command.arg("-I").arg(dir);
    }
    command.arg("-c").arg(source).arg("-o").arg(object);

    let output = command
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}; {APT_HINT}", clang.display()));
    // Warnings are shown (cargo prints `cargo::warning` lines) but not fatal:
    // a newer clang may warn where this one does not.
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        println!("cargo::warning={line}");
    }
    if !output.status.success() {
        panic!(
            "{} failed compiling {} ({}); its output is above",
            clang.display(),
            source.display(),
            output.status
        );
    }
}
