import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// A running `upvault-sandbox` on a free loopback port, stopped by `stop()`.
final class Sandbox: @unchecked Sendable {
    let process: Process
    let url: String
    private let http: HTTPClient

    static var binary: String {
        URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().appendingPathComponent("upvault-sandbox").path
    }

    /// Starts the sandbox with `arguments` and waits for its "listening on" line.
    init(_ arguments: [String] = []) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["--port", "0"] + arguments
        process.environment = ["PATH": "/usr/bin:/bin", "SWIFT_BACKTRACE": "enable=no"]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        var seen = ""
        while !seen.contains("\n") {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        guard let range = seen.range(of: "listening on ") else {
            process.terminate()
            throw SandboxError.didNotStart(seen)
        }
        url = String(seen[range.upperBound...].prefix { !$0.isNewline })
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    private var stopped = false

    func stop() async {
        stopped = true
        try? await http.shutdown()
        process.terminate()
        process.waitUntilExit()
    }

    /// A test that failed before `stop()` still leaves nothing running.
    deinit {
        if !stopped {
            try? http.syncShutdown()
            process.terminate()
        }
    }

    enum SandboxError: Error {
        case didNotStart(String)
        case http(Int, String)
    }

    struct Reply {
        var status: Int
        var headers: [(String, String)]
        var body: String
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    }

    /// One request to the sandbox; `path` may be a full URL.
    func request(
        _ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: String? = nil
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: path.hasPrefix("http") ? path : url + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return Reply(
            status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
            body: String(buffer: bytes))
    }

    /// POST /admin/NAME?QUERY, expecting 200.
    @discardableResult
    func admin(_ name: String, _ query: String = "") async throws -> Reply {
        let reply = try await request(.POST, "/admin/\(name)" + (query.isEmpty ? "" : "?\(query)"))
        guard reply.status == 200 else { throw SandboxError.http(reply.status, reply.body) }
        return reply
    }

    func stats() async throws -> [String: Int] {
        let reply = try await request(.GET, "/admin/stats")
        return (reply.json as? [String: Int]) ?? [:]
    }

    /// The current client secret.
    func clientSecret() async throws -> String {
        try await request(.GET, "/admin/client").json["client_secret"] as? String ?? ""
    }

    /// Where the authorization endpoint redirects the browser for `authorizationURL`.
    func redirect(for authorizationURL: String) async throws -> String {
        let reply = try await request(.GET, authorizationURL)
        guard reply.status == 302, let location = reply.header("Location") else {
            throw SandboxError.http(reply.status, reply.body)
        }
        return location
    }
}

/// A command that is still running: its stdin stays open until `finish`.
final class RunningCommand: @unchecked Sendable {
    let process: Process
    private let stdin = Pipe()
    private let stdout = Pipe()
    private let stderr = Pipe()
    private var stderrSoFar = ""

    init(cli: CLI, _ arguments: [String]) throws {
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
    func waitForStandardError(containing marker: String) -> String {
        while !stderrSoFar.contains(marker) {
            let chunk = stderr.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            stderrSoFar += String(decoding: chunk, as: UTF8.self)
        }
        return stderrSoFar
    }

    /// The authorization URL `upvault login` printed.
    func authorizationURL() -> String? {
        let text = waitForStandardError(containing: "state=")
        return text.split(whereSeparator: \.isWhitespace).first { $0.contains("state=") }.map(String.init)
    }

    func send(_ line: String) {
        stdin.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    func finish() throws -> CLI.Result {
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
    var upvaultPID: Int32 { CLI.sessionLeader(startedBy: process) }

    /// Sends `signal` to the upvault process (not to the `setsid` waiting for it).
    func signal(_ signal: Int32) {
        kill(upvaultPID, signal)
    }

    /// The command line the kernel shows for the upvault process (what `ps` would print).
    var commandLine: String {
        let bytes = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(upvaultPID)/cmdline"))) ?? Data()
        return String(decoding: bytes.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
    }
}

extension CLI {
    /// A vault holding app `up` registered against the sandbox (secret via stdin), returning nothing secret.
    mutating func addSandboxApp(
        _ sandbox: Sandbox, name: String = "up", redirect: String = "https://localhost/callback"
    ) async throws {
        let secret = try await sandbox.clientSecret()
        let result = try run(
            [
                "app", "add", name, "--client-id", "sandbox-client", "--redirect-uri", redirect, "--provider-url",
                sandbox.url,
                "--scope", "basic_read move_read",
            ],
            input: secret + "\n")
        #expect(result.status == 0, "app add failed: \(result.stderr)")
    }

    /// Logs in `user` through the pasted-URL flow; returns the command's result.
    func login(
        _ sandbox: Sandbox, app: String = "up", user: String, tamper: ((String) -> String)? = nil
    ) async throws -> Result {
        let command = try RunningCommand(cli: self, ["login", "--app", app, "--user", user])
        guard let url = command.authorizationURL() else { return try command.finish() }
        let location = try await sandbox.redirect(for: url)
        command.send(tamper?(location) ?? location)
        return try command.finish()
    }
}
