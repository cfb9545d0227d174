//! `sqlx::migrate!` embeds the migration files when `db.rs` compiles; this
//! makes Cargo compile it again when a migration is added or changed.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
