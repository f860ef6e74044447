//! `sqlx::migrate!` embeds the migrations, but does not tell cargo when a new file appears.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
