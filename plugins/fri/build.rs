//! The connector's WebAssembly component starts with 2 MiB of linear memory instead of the
//! linker's ~1.1 MiB (its stack and static data): enough to read a real-size extract (up to a few
//! hundred KB) without growing memory inside the call. In the host's pooling allocator a growth
//! costs an mprotect, and recycling the grown instance a TLB shoot-down — together about 7 % of an
//! import call. Plugins whose calls are small keep the default, which makes a fresh instance cheaper.

/// Initial linear memory, in bytes (a multiple of the 64 KiB page).
const INITIAL_MEMORY: u32 = 2 << 20;

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=--initial-memory={INITIAL_MEMORY}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
