//! Compiles `vigie/v1/*.proto` with protox (pure Rust), so no `protoc` is needed.
//! protox produces a FileDescriptorSet that prost and tonic generate code from.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["vigie/v1/alert.proto"];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["."])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
