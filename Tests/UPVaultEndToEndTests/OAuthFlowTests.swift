import Foundation
import NIOHTTP1
import Testing
import UPVaultTesting

/// The OAuth commands against upvault-sandbox, run as a user would run them.
@Suite struct OAuthFlowTests {
    /// A fresh vault and sandbox for one test.
    static func setUp(_ sandboxArguments: [String] = []) async throws -> (CLI, Sandbox) {
        var cli = CLI()
        try cli.initVault()
        let sandbox = try Sandbox(sandboxArguments)
        try await cli.addSandboxApp(sandbox)
        return (cli, sandbox)
    }

    @Test func loginByPastedRedirectThenTokenAndAPI() async throws {
        let (cli, sandbox) = try await Self.setUp()
        defer { cli.cleanUp() }
        let login = try await cli.login(sandbox, user: "alice")
        #expect(login.status == 0, "\(login.stderr)")
        #expect(login.stderr.contains("logged in: grant up/alice"))

        let token = try cli.run(["token"])
        #expect(token.status == 0, "\(token.stderr)")
        let accessToken = token.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(accessToken.count >= 20)
        let me = try await sandbox.request(
            .GET, "/nudge/api/v.1.1/users/@me", headers: [("Authorization", "Bearer \(accessToken)")])
        #expect(me.status == 200)

        let api = try cli.run(["api", "GET", "users/@me/moves"])
        #expect(api.status == 0, "\(api.stderr)")
        #expect(api.stdout.contains("\"items\""))

        let grants = try cli.run(["grants"])
        #expect(grants.stdout.contains("alice") && grants.stdout.contains("active"))
        #expect(!grants.stdout.contains(accessToken))
        let stats = try await sandbox.stats()
        #expect(stats["authorization_code_grants"] == 1)
        #expect(stats["refresh_grants"] == 0)
        await sandbox.stop()
    }

    @Test func expiryDrivenRefreshWithRotatingRefreshTokens() async throws {
        let (cli, sandbox) = try await Self.setUp(["--rotate-refresh-tokens"])
        defer { cli.cleanUp() }
        #expect(try await cli.login(sandbox, user: "alice").status == 0)
        let first = try cli.run(["token"]).stdout
        // Fresh for a year: asking for 400 days of validity forces a refresh, each time.
        let second = try cli.run(["token", "--min-valid", "400d"])
        #expect(second.status == 0, "\(second.stderr)")
        let third = try cli.run(["token", "--min-valid", "400d"])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(Set([first, second.stdout, third.stdout]).count == 3)
        // Without a margin problem, no refresh.
        #expect(try cli.run(["token"]).stdout == third.stdout)
        let stats = try await sandbox.stats()
        #expect(stats["refreshes_succeeded"] == 2)
        // Each refresh used the refresh token the previous one returned: none was presented twice.
        #expect(stats["consumed_refresh_token_reuses"] == 0)
        let grants = try cli.run(["grants", "--json"])
        #expect(grants.stdout.contains("\"last_refresh_at\""))
        await sandbox.stop()
    }

    @Test func accessDeniedAtLogin() async throws {
        let (cli, sandbox) = try await Self.setUp(["--deny"])
        defer { cli.cleanUp() }
        let login = try await cli.login(sandbox, user: "alice")
        #expect(login.status == 3)
        #expect(login.stderr.contains("access denied"))
        #expect(try cli.run(["grants"]).stdout.contains("alice") == false)
        await sandbox.stop()
    }

    @Test func stateMismatchIsRefusedAndNoCodeIsExchanged() async throws {
        let (cli, sandbox) = try await Self.setUp()
        defer { cli.cleanUp() }
        let login = try await cli.login(sandbox, user: "mallory") { location in
            location.replacingOccurrences(of: "state=", with: "state=forged")
        }
        #expect(login.status == 1)
        #expect(
            login.stderr
                == "upvault: the redirect's state does not match the login that was started (forged or stale callback)\n"
                || login.stderr.hasSuffix(
                    "upvault: the redirect's state does not match the login that was started (forged or stale callback)\n"
                ))
        #expect(try await sandbox.stats()["token_requests"] == 0)
        await sandbox.stop()
    }

    @Test func nonHTTPSRedirectAndEndpointsAreRefused() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        let plain = try cli.run(
            ["app", "add", "x", "--client-id", "id", "--redirect-uri", "http://example.com/callback"], input: "secret\n"
        )
        #expect(plain.status == 64)
        #expect(plain.stderr.contains("refusing http://example.com/callback"))
        let endpoint = try cli.run(
            [
                "app", "add", "y", "--client-id", "id", "--redirect-uri", "https://example.com/cb", "--provider-url",
                "http://10.0.0.1:8080",
            ],
            input: "secret\n")
        #expect(endpoint.status == 64)
        let lookalike = try cli.run(
            ["app", "add", "z", "--client-id", "id", "--redirect-uri", "http://127.0.0.1.example.com/cb"],
            input: "secret\n")
        #expect(lookalike.status == 64)
        #expect(try cli.run(["app", "list"]).stdout.contains("x") == false)
    }

    @Test func invalidGrantMarksTheGrantAndKeepsIt() async throws {
        let (cli, sandbox) = try await Self.setUp()
        defer { cli.cleanUp() }
        let config = cli.writePrivate(
            "config.json",
            #"{"client_id": "sandbox-client", "client_secret": "\#(try await sandbox.clientSecret())", "redirect_uri": "https://localhost/callback", "scope": "basic_read", "access_token": "stale-access", "refresh_token": "unknown-refresh"}"#
        )
        let imported = try cli.run([
            "import", "kiefer", config, "--app", "up", "--user", "bob", "--provider-url", sandbox.url,
        ])
        #expect(imported.status == 0, "\(imported.stderr)")
        // The access token is not the provider's: 401, one refresh, which the provider refuses.
        let api = try cli.run(["api", "--user", "bob", "GET", "users/@me"])
        #expect(api.status == 3)
        #expect(api.stderr.contains("grant up/bob needs re-authorization"))
        let grants = try cli.run(["grants"])
        #expect(grants.stdout.contains("bob") && grants.stdout.contains("needs reauthorization"))
        // Later calls fail at once without asking the provider again.
        let before = try await sandbox.stats()["refresh_grants"]
        #expect(try cli.run(["token", "--user", "bob"]).status == 3)
        #expect(try await sandbox.stats()["refresh_grants"] == before)
        // Logging in again repairs it.
        #expect(try await cli.login(sandbox, user: "bob").status == 0)
        #expect(try cli.run(["token", "--user", "bob"]).status == 0)
        await sandbox.stop()
    }

    @Test func apiRefreshesOnceOn401() async throws {
        let (cli, sandbox) = try await Self.setUp()
        defer { cli.cleanUp() }
        #expect(try await cli.login(sandbox, user: "alice").status == 0)
        let before = try cli.run(["token"]).stdout
        try await sandbox.admin("invalidate-access-tokens")
        let api = try cli.run(["api", "GET", "users/@me"])
        #expect(api.status == 0, "\(api.stderr)")
        #expect(api.stdout.contains("\"xid\""))
        let stats = try await sandbox.stats()
        #expect(stats["unauthorized_api_requests"] == 1)
        #expect(stats["refreshes_succeeded"] == 1)
        #expect(try cli.run(["token"]).stdout != before)
        await sandbox.stop()
    }

    @Test func providerErrorWithHTTP200IsAnError() async throws {
        let (cli, sandbox) = try await Self.setUp(["--errors-with-200"])
        defer { cli.cleanUp() }
        #expect(try await cli.login(sandbox, user: "alice").status == 0)
        try await sandbox.admin("faults", "error_200_rate=1")
        let token = try cli.run(["token", "--min-valid", "400d"])
        #expect(token.status == 69)
        #expect(token.stderr.contains("unavailable"))
        try await sandbox.admin("faults", "error_200_rate=0&server_error_rate=1")
        let html = try cli.run(["token", "--min-valid", "400d"])
        #expect(html.status == 69)
        #expect(html.stderr == "upvault: the provider is unavailable (HTTP 503)\n")
        await sandbox.stop()
    }

    @Test func recoverRefreshTokenFromJawboneEndpoint() async throws {
        let (cli, sandbox) = try await Self.setUp()
        defer { cli.cleanUp() }
        let seeded = try await sandbox.admin("seed", "count=1").body
        let access = try #require(
            (try JSONSerialization.jsonObject(with: Data(seeded.utf8)) as? [[String: Any]])?.first?["access_token"]
                as? String)
        let refresh = try #require(
            (try JSONSerialization.jsonObject(with: Data(seeded.utf8)) as? [[String: Any]])?.first?["refresh_token"]
                as? String)
        let config = cli.writePrivate(
            "config.json",
            #"{"client_id": "sandbox-client", "client_secret": "\#(try await sandbox.clientSecret())", "redirect_uri": "https://localhost/callback", "scope": [], "access_token": "\#(access)"}"#
        )
        #expect(try cli.run(["import", "kiefer", config, "--provider-url", sandbox.url]).status == 0)
        #expect(try cli.run(["grants", "--json"]).stdout.contains("\"has_refresh_token\":false"))
        let recovered = try cli.run(["recover-refresh-token"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        let exported = try cli.run(["export", "kiefer", "--reveal"])
        #expect(exported.stdout.contains(refresh))
        #expect(try cli.run(["export", "kiefer"]).status == 64)
        await sandbox.stop()
    }

    @Test func concurrentTokenCallsRefreshExactlyOnce() async throws {
        let (cli, sandbox) = try await Self.setUp(["--access-token-lifetime", "60", "--latency-ms", "300"])
        defer { cli.cleanUp() }
        #expect(try await cli.login(sandbox, user: "alice").status == 0)
        // The grant now expires within the default 5-minute margin; new tokens will live a year.
        try await sandbox.admin("settings", "access_token_lifetime=31536000")
        let commands = try (0..<4).map { _ in try RunningCommand(cli: cli, ["token"]) }
        let results = try commands.map { try $0.finish() }
        for result in results { #expect(result.status == 0, "\(result.stderr)") }
        #expect(Set(results.map(\.stdout)).count == 1)
        #expect(try await sandbox.stats()["refresh_grants"] == 1)
        await sandbox.stop()
    }
}
