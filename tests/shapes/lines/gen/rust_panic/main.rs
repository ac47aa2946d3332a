// A Rust service's plain-text output: a line, then a panic (run with RUST_BACKTRACE=1).
fn main() {
    println!("service started");
    let amounts: Vec<u32> = Vec::new();
    let payment = std::env::args().count() + 4710;
    if payment > 0 {
        panic!("gateway did not answer payment {} within 3000 ms", payment);
    }
    println!("{}", amounts[3]);
}
