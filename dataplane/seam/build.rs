//! Compiles `proto/irmd.proto` (irmd's socket protocol) with protox and
//! prost-build: no `protoc` binary needed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/irmd.proto");
    println!("cargo:rerun-if-changed=build.rs");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let fds = protox::compile(["proto/irmd.proto"], ["proto"])?;
    prost_build::Config::new().out_dir(&out_dir).compile_fds(fds)?;
    Ok(())
}
