import Foundation
import Logging
import Testing
import UPVault
import UPVaultOAuth

/// README's UPVaultOAuth snippet, as written there, against a real upvault-sandbox over HTTP.
@Suite struct ReadmeOAuthTests {
    @Test func theOAuthSnippetWorksAgainstTheSandbox() async throws {
        let fixture = try Fixture()
        let sandbox = try SandboxProcess()
        defer { sandbox.stop() }
        let secret = try await sandbox.clientSecret()
        try fixture.vault.put(
            App(
                name: "up", provider: "jawbone", clientID: "sandbox-client",
                clientSecrets: [App.ClientSecret(value: secret, addedAt: 0)], redirectURI: "https://localhost/callback",
                scopes: ["basic_read"],
                endpoints: App.Endpoints(
                    authorize: sandbox.url + "/auth/oauth2/auth", token: sandbox.url + "/auth/oauth2/token",
                    apiBase: sandbox.url + "/nudge/api/v.1.1/")))
        let vault = fixture.vault
        let logger = Logger(label: "readme")
        // --- README ---
        let oauth = OAuthClient(vault: vault, logger: logger)  // the library never configures logging
        let login = try oauth.authorize(app: "up")  // login.url: open it in a browser
        let pasted = try await sandbox.redirect(for: login.url)  // (what the browser would show)
        let grant = try await oauth.completeAuthorization(login, redirectURL: pasted, user: "alice")
        let token = try await oauth.accessToken(app: "up", user: "alice", minimumValidity: .seconds(300))
        let me = try await oauth.request(app: "up", user: "alice", method: "GET", path: "users/@me")
        await oauth.shutdown()
        // --- end ---
        #expect(token == grant.accessToken)
        #expect(me.status == 200)
        #expect(String(decoding: me.body, as: UTF8.self).contains("\"xid\""))
    }
}

/// The sandbox binary, started for one test. Its admin and authorize endpoints are read with a tiny
/// socket GET, so the test does not lean on the library's own HTTP client to check that client.
final class SandboxProcess: @unchecked Sendable {
    let process = Process()
    let url: String

    init() throws {
        var directory = URL(
            fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                ?? CommandLine.arguments[0])
        while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("upvault-sandbox").path),
            directory.path != "/"
        {
            directory.deleteLastPathComponent()
        }
        process.executableURL = directory.appendingPathComponent("upvault-sandbox")
        process.arguments = ["--port", "0"]
        process.environment = ["PATH": "/usr/bin:/bin", "SWIFT_BACKTRACE": "enable=no"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var seen = ""
        while !seen.contains("\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        url = String(seen.components(separatedBy: "listening on ").last?.prefix { !$0.isNewline } ?? "")
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }

    func clientSecret() async throws -> String {
        let (status, _, body) = try HTTP.get(url + "/admin/client")
        #expect(status == 200)
        let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        return object?["client_secret"] as? String ?? ""
    }

    func redirect(for authorizationURL: String) async throws -> String {
        let (status, headers, _) = try HTTP.get(authorizationURL)
        #expect(status == 302)
        return headers["location"] ?? ""
    }
}

/// A minimal HTTP/1.1 GET over a loopback TCP socket, so this test target needs no HTTP client of its own.
enum HTTP {
    static func get(_ url: String) throws -> (Int, [String: String], String) {
        let components = URLComponents(string: url)!
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(components.port!).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        let target = components.percentEncodedPath + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        let request = "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            response += buffer.prefix(count)
        }
        let text = String(decoding: response, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        let lines = parts[0].components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                    in: .whitespaces)
            }
        }
        return (status, headers, parts.dropFirst().joined(separator: "\r\n\r\n"))
    }
}
