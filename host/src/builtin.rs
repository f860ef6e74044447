//! The first-party plugins this binary carries: built for wasm32-wasip2 by `build.rs`, each with
//! its manifest completed by the SHA-256 of its component.

use ipra_runtime::BuiltinPlugin;

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));
