import Foundation

/// The directory holding the built products (the test bundle's own directory).
package enum Products {
    package static var directory: String {
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

    package static var helper: String { directory + "/upvault-test-helper" }
}

/// A child process whose stdout is collected line by line.
package final class Child {
    package let process = Process()
    private let output = Pipe()
    private let errors = Pipe()

    package init(_ executable: String, _ arguments: [String]) throws {
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

    package func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
    }

    /// Waits until the child has printed `count` complete lines (acknowledged writes) or ended: a kill
    /// that follows lands at a point the child itself counted, not after a guessed time.
    package func waitForLines(_ count: Int) {
        while seen.reduce(0, { $0 + ($1 == 0x0A ? 1 : 0) }) < count {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return }
            seen += chunk
        }
    }

    /// Waits for the exit and returns (status, stdout lines, stderr).
    package func finish() -> (status: Int32, lines: [String], errors: String) {
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
