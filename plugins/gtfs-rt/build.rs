//! Compiles `schemas/gtfs-realtime.proto` with the pure-Rust `protox` (no `protoc`
//! on the build machines) and generates the `prost` types from its descriptors.
//! The encoded descriptor set is kept too: the JSON mapping reads field names
//! and enum names from it at run time.

use std::path::PathBuf;

use protox::prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schemas = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../schemas");
    let proto = schemas.join("gtfs-realtime.proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    let fds = protox::compile([&proto], [&schemas])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("gtfs-realtime.fds"), fds.encode_to_vec())?;
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}
