//! Rebuilds the crate when a migration is added: `sqlx::migrate!` embeds the directory's
//! files, and cargo tracks only what it was told to.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
