//! `assetgate` binary: the CLI; with no arguments it serves the embedded default.

fn main() -> std::process::ExitCode {
    assetgate::cli::main()
}
