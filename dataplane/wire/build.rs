//! Compiles `proto/*.proto` without a `protoc` binary: protox parses the
//! files into a `FileDescriptorSet`, prost-build generates one Rust file
//! per package into `OUT_DIR`, and the descriptor set itself (without
//! source info, which only carries comments) is written next to them so
//! that `src/proto.rs` can embed it for the proto2 `required` check.

use std::path::PathBuf;

use prost::Message as _;

const PROTOS: &[&str] = &[
    "proto/cep.proto",
    "proto/model.proto",
    "proto/ipcp_config.proto",
    "proto/enroll.proto",
    "proto/dht.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    println!("cargo:rerun-if-changed=build.rs");

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let fds = protox::compile(PROTOS, ["proto"])?;

    let mut embedded = fds.clone();
    for file in &mut embedded.file {
        file.source_code_info = None;
    }
    std::fs::write(out_dir.join("descriptor_set.bin"), embedded.encode_to_vec())?;

    prost_build::Config::new()
        .out_dir(&out_dir)
        // `prost::Name` gives every message a static package and name,
        // which is how `proto::decode` finds the message's descriptor.
        .enable_type_names()
        .compile_fds(fds)?;
    Ok(())
}
