import Foundation
import Testing

/// Runs the built `upvault` like a user: its own environment, stdin, no controlling terminal.
struct CLI {
    let directory: String
    var environment: [String: String]

    static var binary: String {
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

    init() {
        var template = Array((NSTemporaryDirectory() + "/upvault-e2e-XXXXXX").utf8CString)
        _ = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        directory = String(cString: template)
        environment = [
            "PATH": "/usr/bin:/bin", "HOME": directory, "SWIFT_BACKTRACE": "enable=no",
            "UPVAULT_PATH": directory + "/vault/vault.upv",
        ]
    }

    var vaultPath: String { environment["UPVAULT_PATH"]! }

    func cleanUp() { try? FileManager.default.removeItem(atPath: directory) }

    /// A 0600 file in the test directory.
    @discardableResult
    func writePrivate(_ name: String, _ contents: String, mode: Int = 0o600) -> String {
        let path = directory + "/" + name
        FileManager.default.createFile(
            atPath: path, contents: Data(contents.utf8), attributes: [.posixPermissions: mode])
        return path
    }

    /// Sets the passphrase file used by later commands.
    mutating func usePassphrase(_ passphrase: String) {
        environment["UPVAULT_PASSPHRASE_FILE"] = writePrivate("passphrase", passphrase + "\n")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `upvault ARGS` in a new session (so there is no terminal to prompt on), feeding `input`.
    @discardableResult
    func run(_ arguments: [String], input: String = "", extraEnvironment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = ["-w", Self.binary] + arguments
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
    static func sessionLeader(startedBy setsid: Process) -> Int32 {
        let pid = setsid.processIdentifier
        let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return children.split(separator: " ").compactMap { Int32($0) }.first ?? pid
    }

    /// A vault with the cheapest accepted Argon2id cost.
    mutating func initVault(passphrase: String = "first passphrase", extra: [String] = []) throws {
        usePassphrase(passphrase)
        let result = try run(["init", "--kdf", "1:8"] + extra)
        #expect(result.status == 0, "init failed: \(result.stderr)")
    }
}
