#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    favcrm::cli::main()
}
