//! The `dubstage` command-line interface.
fn main() {
    println!("dubstage {}", dubstage_core::VERSION);
}
