import ArgumentParser

/// Exit codes shared by the programs (README, "Exit codes").
public enum ExitStatus {
    /// Nothing matched, or the name is ambiguous without `--hash`.
    public static let notFound = ExitCode(1)
    /// No index answered.
    public static let indexUnavailable = ExitCode(3)
    /// The download could not complete (no good peer left); the partial file is kept for resume.
    public static let incomplete = ExitCode(4)
    /// The output exists with other content and `--force` was not given, or cannot be written.
    public static let outputRefused = ExitCode(5)
    /// Stopped by SIGINT/SIGTERM; the partial file is kept for resume.
    public static let interrupted = ExitCode(130)
}
