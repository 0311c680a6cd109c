fn main() -> std::process::ExitCode {
    yiqi::cli::main()
}
