import Foundation
import Testing
import UPVaultTesting

@testable import UPVault

func text(_ bytes: borrowing SecureBytes?) -> String? {
    switch bytes {
    case .some(let value): return value.utf8String()
    case .none: return nil
    }
}

/// A fresh vault at minimal KDF cost.
func makeVault(in directory: TemporaryDirectory, name: String = "vault.upv") throws -> Vault {
    try Vault.create(at: directory.file(name), passphrase: secure(testPassphrase), kdf: testKDF)
}

func reopen(_ path: String) throws -> Vault {
    try Vault.open(at: path, passphrase: secure(testPassphrase), limits: testLimits)
}

func fileBytes(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path) ?? Data()) }
func writeBytes(_ bytes: [UInt8], to path: String) {
    FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600])
}

/// Every secret's value, for comparing a vault with a model.
func contents(of vault: Vault) throws -> [String: String] {
    var result: [String: String] = [:]
    for name in try vault.secretNames() {
        result[name] = text(try vault.secret(named: name))
    }
    return result
}

/// The directory holding the built products (the test bundle's own directory).
enum Products {
    static var directory: String {
        if let override = ProcessInfo.processInfo.environment["UPVAULT_BIN_DIR"] { return override }
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: executable).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("upvault-test-helper").path),
            url.path != "/"
        {
            url.deleteLastPathComponent()
        }
        return url.path
    }

    static var helper: String { directory + "/upvault-test-helper" }
}

/// A child process whose stdout is collected line by line.
final class Child {
    let process = Process()
    private let output = Pipe()
    private let errors = Pipe()

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    private var seen = Data()

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
    }

    /// Waits until the child has printed `count` complete lines (acknowledged writes) or ended: a kill
    /// that follows lands at a point the child itself counted, not after a guessed time.
    func waitForLines(_ count: Int) {
        while seen.reduce(0, { $0 + ($1 == 0x0A ? 1 : 0) }) < count {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return }
            seen += chunk
        }
    }

    /// Waits for the exit and returns (status, stdout lines, stderr).
    func finish() -> (status: Int32, lines: [String], errors: String) {
        let out = seen + output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: out, as: UTF8.self)
        // Only complete lines count: a line cut by the kill was never acknowledged.
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.removeLast()
        return (process.terminationStatus, lines, String(decoding: err, as: UTF8.self))
    }
}
