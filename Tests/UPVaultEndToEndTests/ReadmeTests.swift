import Foundation
import Testing
import UPVaultTesting

/// Runs every ```sh block of README.md's "Usage" section, in order, in one shell with a fresh HOME
/// and the built upvault on PATH. A README snippet that stops working fails this test.
/// Serialized: two snippet shells side by side once left one `setsid` unreaped by Foundation's `Process`
/// (a zombie `waitUntilExit` spun on for ever); the shell is reaped here, by its pid.
@Suite(.serialized) struct ReadmeTests {
    static let readme = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("README.md")

    static func usageSnippets(section: String = "Usage") throws -> [String] {
        let text = try String(contentsOf: readme, encoding: .utf8)
        guard let start = text.range(of: "\n## \(section)\n"),
            let end = text.range(of: "\n## ", range: start.upperBound..<text.endIndex)
        else { return [] }
        var snippets: [String] = []
        var current: [Substring]? = nil
        for line in text[start.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil && line == "```sh" {
                current = []
            } else if current != nil && line == "```" {
                snippets.append(current!.joined(separator: "\n"))
                current = nil
            } else if current != nil {
                current!.append(line)
            }
        }
        return snippets
    }

    @Test func usageSnippetsRunAsWritten() throws {
        let snippets = try Self.usageSnippets()
        #expect(snippets.count >= 6)
        let cli = CLI()
        defer { cli.cleanUp() }
        let (status, text) = try Self.run(snippets, cli: cli)
        #expect(status == 0, "README snippets failed:\n\(text)")
        #expect(text.contains("ghp_example_token"))
        #expect(FileManager.default.fileExists(atPath: cli.directory + "/.local/share/upvault/vault.upv"))
        let mode =
            try FileManager.default.attributesOfItem(atPath: cli.directory + "/.local/share/upvault")[.posixPermissions]
            as! Int
        #expect(mode == 0o700)
    }

    /// "Beyond one machine", against the test cluster (scripts/postgres.sh), in a schema of its own.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["UPVAULT_TEST_POSTGRES"] != nil))
    func beyondOneMachineSnippetsRunAsWritten() throws {
        let snippets = try Self.usageSnippets(section: "Beyond one machine")
        #expect(snippets.count == 3)
        let cli = CLI()
        defer { cli.cleanUp() }
        let environment = ProcessInfo.processInfo.environment
        let schema = "readme_\(UInt32.random(in: 0...UInt32.max))"
        let database = environment["UPVAULT_TEST_POSTGRES"]! + "&schema=" + schema
        let (status, text) = try Self.run(
            snippets, cli: cli, extra: ["UPVAULT_DATABASE": database, "PGPASSFILE": environment["PGPASSFILE"] ?? ""])
        #expect(status == 0, "README snippets failed:\n\(text)")
        #expect(text.contains("ghp_example_token"))
        // Two workers on one grant: one campaign refreshes it (the other worker joins it, or, once it is
        // over, starts another that finds the grant already fresh).
        #expect(text.contains("\"total\":1") && text.contains("\"failed\":0"), "\(text)")
        #expect(text.contains("\"needs_reauthorization\":0"), "\(text)")
        #expect(text.contains("every entry verified"))
        // Through the agent, with no passphrase: the secret, and a campaign run in the agent.
        #expect(text.components(separatedBy: "ghp_example_token").count == 3, "\(text)")
        #expect(text.contains("refreshing in the agent"), "\(text)")
    }

    /// Waits for `process` by its pid (blocking `waitpid`), and its exit status; Foundation's own wait is
    /// used only when it reaped the process first.
    static func reap(_ process: Process) -> Int32 {
        var status: Int32 = 0
        while true {
            let result = waitpid(process.processIdentifier, &status, 0)
            if result == process.processIdentifier {
                if status & 0x7f == 0 { return (status >> 8) & 0xff }
                return 128 + (status & 0x7f)
            }
            if result == -1 && errno == EINTR { continue }
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    /// Runs `snippets` in one shell, in a session of its own, with the test's home and the built tools on
    /// PATH; returns the exit status and everything it printed.
    static func run(_ snippets: [String], cli: CLI, extra: [String: String] = [:]) throws -> (Int32, String) {
        let script = "set -euo pipefail\n" + snippets.joined(separator: "\n")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = ["-w", "/bin/bash", "-c", script]
        // The snippets write files (config.json, settings.ini) where they run: in the test's home, never
        // in the checkout.
        process.currentDirectoryURL = URL(fileURLWithPath: cli.directory)
        process.environment = [
            "HOME": cli.directory,
            "PATH": URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().path + ":/usr/bin:/bin",
            "SWIFT_BACKTRACE": "enable=no",
        ].merging(extra) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // The snippets' shell leads a session of its own; find it while setsid still waits for it.
        var session = CLI.sessionLeader(startedBy: process)
        for _ in 0..<50 where session == process.processIdentifier {
            usleep(10_000)
            session = CLI.sessionLeader(startedBy: process)
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let status = Self.reap(process)
        // Whatever a failed snippet left running in the background (the sandbox) goes with the session;
        // an agent lives in a session of its own, so it is locked explicitly.
        kill(-session, SIGTERM)
        var cleanup = cli
        cleanup.environment["HOME"] = cli.directory
        _ = try? cleanup.run(["lock"])
        if let database = extra["UPVAULT_DATABASE"] { _ = try? cleanup.run(["lock", "--vault", database]) }
        return (status, text)
    }
}
