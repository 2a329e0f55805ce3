//! The `locust-k8s-operator` binary: wiring only.
#![forbid(unsafe_code)]

fn main() {
    match locust_k8s_operator::crd::crd_yaml() {
        Ok(y) => print!("{y}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
