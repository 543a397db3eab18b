import Foundation
import Testing
import UPVaultTesting

/// Runs every ```sh block of README.md's "Usage" section, in order, in one shell with a fresh HOME
/// and the built upvault on PATH. A README snippet that stops working fails this test.
@Suite struct ReadmeTests {
    static let readme = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("README.md")

    static func usageSnippets() throws -> [String] {
        let text = try String(contentsOf: readme, encoding: .utf8)
        guard let start = text.range(of: "\n## Usage\n"),
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
        ]
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
        process.waitUntilExit()
        // Whatever a failed snippet left running in the background (the sandbox) goes with the session;
        // an agent lives in a session of its own, so it is locked explicitly.
        kill(-session, SIGTERM)
        var cleanup = cli
        cleanup.environment["HOME"] = cli.directory
        _ = try? cleanup.run(["lock"])
        #expect(process.terminationStatus == 0, "README snippets failed:\n\(text)")
        #expect(text.contains("ghp_example_token"))
        #expect(FileManager.default.fileExists(atPath: cli.directory + "/.local/share/upvault/vault.upv"))
        let mode =
            try FileManager.default.attributesOfItem(atPath: cli.directory + "/.local/share/upvault")[.posixPermissions]
            as! Int
        #expect(mode == 0o700)
    }
}
