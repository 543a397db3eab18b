import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import UPVaultSandbox

/// A running `upvault-sandbox` on a free loopback port, stopped by `stop()`.
package final class Sandbox: @unchecked Sendable {
    package let process: Process
    package let url: String
    /// The admin token the sandbox wrote for this run.
    package let adminToken: String
    private let http: HTTPClient
    private let tokenDirectory = TemporaryDirectory(prefix: "upvault-sandbox-admin")

    package static var binary: String {
        URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().appendingPathComponent("upvault-sandbox").path
    }

    /// Starts the sandbox with `arguments` and waits for its "listening on" line.
    package init(_ arguments: [String] = []) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        let tokenFile = tokenDirectory.file("admin.token")
        process.arguments = ["--port", "0", "--admin-token-file", tokenFile] + arguments
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
        adminToken = try AdminToken.read(from: tokenFile)
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        // Instrumented builds run many times slower (scripts/sanitize.sh sets the factor).
        let slowdown = Int64(ProcessInfo.processInfo.environment["UPVAULT_TEST_SLOWDOWN"] ?? "") ?? 1
        configuration.timeout = .init(connect: .seconds(5 * slowdown), read: .seconds(30 * slowdown))
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    private var stopped = false

    package func stop() async {
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

    package enum SandboxError: Error {
        case didNotStart(String)
        case http(Int, String)
    }

    package struct Reply {
        package var status: Int
        package var headers: [(String, String)]
        package var body: String
        package func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        package var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        }
    }

    /// One request to the sandbox; `path` may be a full URL.
    package func request(
        _ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: String? = nil
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: path.hasPrefix("http") ? path : url + path)
        request.method = method
        if path.hasPrefix("/admin/") { request.headers.add(name: AdminToken.headerName, value: adminToken) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let slowdown = Int64(ProcessInfo.processInfo.environment["UPVAULT_TEST_SLOWDOWN"] ?? "") ?? 1
        let response = try await http.execute(request, timeout: .seconds(30 * slowdown))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return Reply(
            status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
            body: String(buffer: bytes))
    }

    /// POST /admin/NAME?QUERY, expecting 200.
    @discardableResult
    package func admin(_ name: String, _ query: String = "") async throws -> Reply {
        let reply = try await request(.POST, "/admin/\(name)" + (query.isEmpty ? "" : "?\(query)"))
        guard reply.status == 200 else { throw SandboxError.http(reply.status, reply.body) }
        return reply
    }

    package func stats() async throws -> [String: Int] {
        let reply = try await request(.GET, "/admin/stats")
        return (reply.json as? [String: Int]) ?? [:]
    }

    /// SIGKILLs `command` mid-run: the sandbox holds every refresh request after the `count`-th
    /// unanswered; once it has taken `count` (the command is then surely waiting on held requests), the
    /// upvault process is killed and the hold lifted. Returns the refresh requests taken so far.
    /// `counter` is the statistic the hold counts (`revocation_requests` for a bulk revocation).
    /// `beforeKill` runs once the count is reached, just before the kill: the command has then been
    /// sending requests for a while, so what it checks (which process is about to be killed) is settled.
    package func killMidRun(
        _ command: RunningCommand, after count: Int, counter: String = "refresh_grants",
        beforeKill: () -> Void = {}
    ) async throws -> Int {
        try await admin("faults", "hold_after=\(count)")
        var seen = 0
        while command.process.isRunning {
            seen = try await stats()[counter] ?? 0
            if seen >= count { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        beforeKill()
        command.signal(SIGKILL)
        try await admin("faults", "hold_after=0")
        return try await stats()[counter] ?? seen
    }

    /// The current client secret.
    package func clientSecret() async throws -> String {
        try await request(.GET, "/admin/client").json["client_secret"] as? String ?? ""
    }

    /// Where the authorization endpoint redirects the browser for `authorizationURL`.
    package func redirect(for authorizationURL: String) async throws -> String {
        let reply = try await request(.GET, authorizationURL)
        guard reply.status == 302, let location = reply.header("Location") else {
            throw SandboxError.http(reply.status, reply.body)
        }
        return location
    }
}

extension CLI {
    /// A vault holding app `up` registered against the sandbox (secret via stdin), returning nothing secret.
    package mutating func addSandboxApp(
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
        guard result.status == 0 else { throw HarnessError.commandFailed("app add", result.stderr) }
    }

    /// Logs in `user` through the pasted-URL flow; returns the command's result.
    package func login(
        _ sandbox: Sandbox, app: String = "up", user: String, tamper: ((String) -> String)? = nil
    ) async throws -> Result {
        let command = try RunningCommand(cli: self, ["login", "--app", app, "--user", user])
        guard let url = command.authorizationURL() else { return try command.finish() }
        let location = try await sandbox.redirect(for: url)
        command.send(tamper?(location) ?? location)
        return try command.finish()
    }
}
