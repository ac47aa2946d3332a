// Rust tracing: tracing-subscriber's JSON format with the file and line (off by default).
use std::fmt;

#[derive(Debug)]
struct PaymentTimeoutError(u32);

impl fmt::Display for PaymentTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "gateway did not answer payment {} within 3000 ms", self.0)
    }
}

fn process_payment(id: u32) -> Result<(), PaymentTimeoutError> {
    Err(PaymentTimeoutError(id))
}

fn main() {
    tracing_subscriber::fmt().json().with_file(true).with_line_number(true).init();
    tracing::info!(port = 8080, "service started");
    tracing::info!("payment 4700 accepted");
    for id in 4711..4723 {
        if let Err(error) = process_payment(id) {
            tracing::error!(error = %error, "payment {} failed", id);
        }
    }
}
