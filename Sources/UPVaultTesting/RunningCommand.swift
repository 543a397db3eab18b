import Foundation

/// A command that is still running: its stdin stays open until `finish`.
package final class RunningCommand: @unchecked Sendable {
    package let process: Process
    private let stdin = Pipe()
    private let stdout = Pipe()
    private let stderr = Pipe()
    private var stderrSoFar = ""

    package init(cli: CLI, _ arguments: [String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = ["-w", CLI.binary] + arguments
        process.environment = cli.environment
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
    }

    /// Reads stderr until it contains `marker`; returns everything read so far.
    package func waitForStandardError(containing marker: String) -> String {
        while !stderrSoFar.contains(marker) {
            let chunk = stderr.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            stderrSoFar += String(decoding: chunk, as: UTF8.self)
        }
        return stderrSoFar
    }

    /// The authorization URL `upvault login` printed.
    package func authorizationURL() -> String? {
        let text = waitForStandardError(containing: "state=")
        return text.split(whereSeparator: \.isWhitespace).first { $0.contains("state=") }.map(String.init)
    }

    package func send(_ line: String) {
        stdin.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    package func finish() throws -> CLI.Result {
        try? stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLI.Result(
            status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
            stderr: stderrSoFar + String(decoding: err, as: UTF8.self))
    }

    /// The upvault process itself. `setsid` forks when it starts as a process-group leader (as Foundation
    /// starts it) and waits for the child: signalling `process` would reach `setsid`, not upvault.
    package var upvaultPID: Int32 { CLI.sessionLeader(startedBy: process) }

    /// Sends `signal` to the upvault process (not to the `setsid` waiting for it).
    package func signal(_ signal: Int32) {
        kill(upvaultPID, signal)
    }

    /// The command line the kernel shows for the upvault process (what `ps` would print).
    package var commandLine: String {
        let bytes = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(upvaultPID)/cmdline"))) ?? Data()
        return String(decoding: bytes.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
    }
}
