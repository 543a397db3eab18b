import Foundation

/// Runs the built `upvault` like a user: its own environment, stdin, no controlling terminal.
package struct CLI {
    package let directory: String
    package var environment: [String: String]

    package static var binary: String {
        if let override = ProcessInfo.processInfo.environment["UPVAULT_BIN_DIR"] { return override + "/upvault" }
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: executable).deletingLastPathComponent()
        while !FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("upvault").path), url.path != "/"
        {
            url.deleteLastPathComponent()
        }
        return url.appendingPathComponent("upvault").path
    }

    /// `upvault-cli`, which `upvault` replaces itself with for every command it does not answer itself
    /// (and which starts the agent).
    package static var fullBinary: String {
        URL(fileURLWithPath: binary).deletingLastPathComponent().appendingPathComponent("upvault-cli").path
    }

    package init() {
        directory = TemporaryDirectory.create(prefix: "upvault-e2e")
        environment = [
            "PATH": "/usr/bin:/bin", "HOME": directory, "SWIFT_BACKTRACE": "enable=no",
            "UPVAULT_PATH": directory + "/vault/vault.upv",
        ]
    }

    package var vaultPath: String { environment["UPVAULT_PATH"]! }

    package func cleanUp() { try? FileManager.default.removeItem(atPath: directory) }

    /// A 0600 file in the test directory.
    @discardableResult
    package func writePrivate(_ name: String, _ contents: String, mode: Int = 0o600) -> String {
        let path = directory + "/" + name
        FileManager.default.createFile(
            atPath: path, contents: Data(contents.utf8), attributes: [.posixPermissions: mode])
        return path
    }

    /// Sets the passphrase file used by later commands.
    package mutating func usePassphrase(_ passphrase: String) {
        environment["UPVAULT_PASSPHRASE_FILE"] = writePrivate("passphrase", passphrase + "\n")
    }

    package struct Result {
        package var status: Int32
        package var stdout: String
        package var stderr: String
    }

    /// Runs `upvault ARGS` in a new session (so there is no terminal to prompt on), feeding `input`;
    /// `wrapper` is a command line that ends by exec'ing its arguments (`sh -c '... exec "$@"' sh`).
    @discardableResult
    package func run(
        _ arguments: [String], input: String = "", extraEnvironment: [String: String] = [:], wrapper: [String] = []
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = ["-w"] + wrapper + [Self.binary] + arguments
        process.environment = environment.merging(extraEnvironment) { $1 }
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: err, as: UTF8.self))
    }

    /// The process `setsid -w PROGRAM` runs, which leads the new session. `setsid` forks when it starts
    /// as a process-group leader (as Foundation starts it) and then only waits: signals meant for the
    /// program, or for its session, must go to this pid, not to `setsid`'s.
    package static func sessionLeader(startedBy setsid: Process) -> Int32 {
        let pid = setsid.processIdentifier
        let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return children.split(separator: " ").compactMap { Int32($0) }.first ?? pid
    }

    /// A vault with the cheapest accepted Argon2id cost.
    package mutating func initVault(passphrase: String = "first passphrase", extra: [String] = []) throws {
        usePassphrase(passphrase)
        let result = try run(["init", "--kdf", "1:8"] + extra)
        guard result.status == 0 else { throw HarnessError.commandFailed("init", result.stderr) }
    }
}

/// A step of a test's set-up that failed (the test then fails with this error).
package enum HarnessError: Error, CustomStringConvertible {
    case commandFailed(String, String)

    package var description: String {
        switch self {
        case .commandFailed(let command, let stderr): "\(command) failed: \(stderr)"
        }
    }
}
