import ArgumentParser
import SonicNet

/// Exit codes shared by the programs (README, "Exit codes").
public enum ExitStatus {
    /// Nothing matched, or the name is ambiguous without `--hash`.
    public static let notFound = ExitCode(1)
    /// No index answered.
    public static let indexUnavailable = ExitCode(3)
    /// The download could not complete (no good peer left); the partial file is kept for resume.
    public static let incomplete = ExitCode(4)
    /// The output exists with other content and `--force` was not given.
    public static let outputRefused = ExitCode(5)
    /// A members-only network refused us (no secret, or a different one).
    public static let notAuthorized = ExitCode(6)
    /// The output cannot be written here: no such folder, no permission, not enough space, or
    /// something other than a regular file (a symlink) where the partial file goes.
    public static let cannotWrite = ExitCode(7)
    /// The content is forged: its pieces verify but the whole file does not hash to the
    /// SHA-256 its manifest claims. Nothing is saved.
    public static let forgedContent = ExitCode(8)
    /// A security refusal: the index's TLS identity is not the one pinned or remembered, or
    /// the download could not complete and peers were refused because their certificates did
    /// not match the peer ids the index gave (docs/SECURITY.md).
    public static let security = ExitCode(9)
    /// Stopped by SIGINT/SIGTERM; the partial file is kept for resume.
    public static let interrupted = ExitCode(130)
}

import SonicWire
