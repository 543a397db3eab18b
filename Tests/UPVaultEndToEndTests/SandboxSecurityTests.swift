import Foundation
import NIOHTTP1
import Testing
import UPVaultTesting

/// The sandbox is not an open redirector, and its switches (and client secret) answer only a caller that
/// holds the admin token and names the loopback address: not another user, not a web page.
@Suite struct SandboxSecurityTests {
    static func authorize(_ sandbox: Sandbox, redirect: String) async throws -> Sandbox.Reply {
        let query = [
            "response_type=code", "client_id=sandbox-client", "scope=basic_read", "state=s",
            "redirect_uri=" + redirect.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!,
        ]
        return try await sandbox.request(.GET, "/auth/oauth2/auth?" + query.joined(separator: "&"))
    }

    @Test func onlyRegisteredRedirectsAreFollowed() async throws {
        let sandbox = try Sandbox()
        for refused in [
            "https://localhost/callbackEVIL/x", "https://localhost.evil.net/callback",
            "https://localhost@evil.net/callback",
            "https://localhost:8443/callback", "https://evil.net/",
        ] {
            let reply = try await Self.authorize(sandbox, redirect: refused)
            #expect(reply.status == 400 && reply.header("Location") == nil, "\(refused) was followed")
        }
        let loopback = try await Self.authorize(sandbox, redirect: "http://127.0.0.1:54321/cb")
        #expect(loopback.status == 302)
        #expect(loopback.header("Location")?.hasPrefix("http://127.0.0.1:54321/cb?code=") == true)
        await sandbox.stop()
    }

    @Test func adminNeedsTheTokenAndALoopbackHost() async throws {
        let sandbox = try Sandbox()
        let port = sandbox.url.split(separator: ":").last!
        // The launcher adds the token to /admin paths it is given; a full URL goes without it.
        let withoutToken = try await sandbox.request(.GET, sandbox.url + "/admin/client")
        #expect(withoutToken.status == 401)
        #expect(!withoutToken.body.contains(try await sandbox.clientSecret()))
        let wrongToken = try await sandbox.request(
            .POST, sandbox.url + "/admin/end-grace", headers: [("X-Sandbox-Admin-Token", "guess")])
        #expect(wrongToken.status == 401)
        // A DNS-rebinding page reaches 127.0.0.1 under its own name.
        let rebound = try await sandbox.request(
            .GET, sandbox.url + "/admin/client",
            headers: [("Host", "evil.example:\(port)"), ("X-Sandbox-Admin-Token", sandbox.adminToken)])
        #expect(rebound.status == 403)
        let good = try await sandbox.request(.GET, "/admin/stats")
        #expect(good.status == 200)
        await sandbox.stop()
    }

    @Test func theAdminCommandFindsTheTokenTheServerWrote() async throws {
        let directory = TemporaryDirectory()
        let home = directory.file("home")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Sandbox.binary)
        server.arguments = ["--port", "0"]
        server.environment = ["HOME": home, "PATH": "/usr/bin:/bin", "SWIFT_BACKTRACE": "enable=no"]
        let output = Pipe()
        server.standardOutput = output
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        var seen = ""
        while !seen.contains("\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        let url = try #require(seen.components(separatedBy: "listening on ").last?.trimmingCharacters(in: .newlines))
        let port = try #require(url.split(separator: ":").last)
        let tokenFile = home + "/.local/state/upvault-sandbox/admin-\(port).token"
        let mode = try FileManager.default.attributesOfItem(atPath: tokenFile)[.posixPermissions] as! NSNumber
        #expect(mode.intValue == 0o600)

        let admin = Process()
        admin.executableURL = URL(fileURLWithPath: Sandbox.binary)
        admin.arguments = ["admin", url, "stats"]
        admin.environment = ["HOME": home, "PATH": "/usr/bin:/bin"]
        let answer = Pipe()
        admin.standardOutput = answer
        try admin.run()
        let body = String(decoding: answer.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        admin.waitUntilExit()
        #expect(admin.terminationStatus == 0)
        #expect(body.contains("refresh_grants"))
    }
}
