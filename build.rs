// Rebuild when migrations or policies change: refinery embeds sql/ at compile time.
fn main() {
    println!("cargo:rerun-if-changed=sql");
    println!("cargo:rerun-if-changed=policies");
    println!("cargo:rerun-if-changed=skills");
}
