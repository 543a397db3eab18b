import Foundation
import NIOHTTP1
import Testing
import UPVaultTesting

/// Discovery, device login, client credentials, public clients and revocation, run as a user would run
/// them against upvault-sandbox.
@Suite struct ModernProviderTests {
    /// A fresh vault and a sandbox; app `disc` registered from the sandbox's metadata (confidential).
    static func setUp(_ sandboxArguments: [String] = []) async throws -> (CLI, Sandbox) {
        var cli = CLI()
        try cli.initVault()
        let sandbox = try Sandbox(sandboxArguments)
        let added = try cli.run(
            ["app", "add", "disc", "--issuer", sandbox.url, "--client-id", "sandbox-client", "--scope", "basic_read"],
            input: try await sandbox.clientSecret() + "\n")
        #expect(added.status == 0, "\(added.stderr)")
        return (cli, sandbox)
    }

    /// The user code a running `login --device` printed.
    static func userCode(_ command: RunningCommand) -> String? {
        let text = command.waitForStandardError(containing: "Waiting for approval")
        return text.split(whereSeparator: \.isWhitespace).map(String.init).first { word in
            word.count == 9 && word.dropFirst(4).first == "-" && word.replacing("-", with: "").allSatisfy(\.isUppercase)
        }
    }

    @Test func discoveryThenLoginWithBasicAuthentication() async throws {
        let (cli, sandbox) = try await Self.setUp()
        defer { cli.cleanUp() }
        let show = try cli.run(["app", "show", "disc"])
        #expect(show.stdout.contains("issuer:        \(sandbox.url)"))
        #expect(show.stdout.contains("revocation:    \(sandbox.url)/auth/oauth2/revoke"))
        #expect(show.stdout.contains("device auth:   \(sandbox.url)/auth/oauth2/device"))
        #expect(
            show.stdout.contains("client auth:   client_secret_basic") && show.stdout.contains("pkce:          yes"))
        let login = try await cli.login(sandbox, app: "disc", user: "alice")
        #expect(login.status == 0, "\(login.stderr)")
        #expect(try cli.run(["token", "--app", "disc", "--user", "alice"]).status == 0)
        // An issuer that is not the sandbox's own name for itself is refused, and nothing is stored.
        let wrong = try cli.run(
            [
                "app", "add", "bad", "--issuer", sandbox.url.replacing("127.0.0.1", with: "localhost") + "/x",
                "--client-id", "c",
            ], input: "s\n")
        #expect(wrong.status == 1 && wrong.stderr.contains("discovery for issuer"), "\(wrong.stderr)")
        #expect(try cli.run(["app", "show", "bad"]).status == 1)
        await sandbox.stop()
    }

    @Test func deviceLoginWaitsForApprovalThenStoresTheGrant() async throws {
        let (cli, sandbox) = try await Self.setUp(["--device-interval", "1"])
        defer { cli.cleanUp() }
        let command = try RunningCommand(
            cli: cli, ["login", "--app", "disc", "--user", "tv", "--device", "--verbose"])
        let code = try #require(Self.userCode(command))
        #expect(command.waitForStandardError(containing: "Waiting").contains("\(sandbox.url)/device"))
        // The client logs (--verbose) each authorization_pending it is answered: wait for the first.
        #expect(command.waitForStandardError(containing: "waiting for the user's approval").contains("approval"))
        try await sandbox.admin("device", "user_code=\(code)&action=approve&user=tv-xid")
        let result = try command.finish()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("logged in: grant disc/tv"))
        let token = try cli.run(["token", "--app", "disc", "--user", "tv"])
        #expect(token.status == 0 && token.stdout.count > 20)
        // The verbose log names hosts and statuses, never the token it obtained.
        #expect(!result.stderr.contains(token.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let stats = try await sandbox.stats()
        #expect(stats["device_authorizations"] == 1 && stats["slow_downs"] == 0 && stats["device_polls"]! >= 2)
        await sandbox.stop()
    }

    @Test func deviceLoginHonoursSlowDown() async throws {
        let (cli, sandbox) = try await Self.setUp(["--device-interval", "1"])
        defer { cli.cleanUp() }
        try await sandbox.admin("faults", "slow_down_polls=1")
        let command = try RunningCommand(
            cli: cli, ["login", "--app", "disc", "--user", "tv", "--device", "--verbose"])
        let code = try #require(Self.userCode(command))
        // The client logs (--verbose) the slow_down it was answered, before it waits the longer interval.
        #expect(command.waitForStandardError(containing: "asked to slow down").contains("slow down"))
        try await sandbox.admin("device", "user_code=\(code)&action=approve")
        let result = try command.finish()
        #expect(result.status == 0, "\(result.stderr)")
        // The sandbox now expects 6 s between polls and says slow_down again to a client that polls sooner:
        // one slow_down is the proof that the client waited longer (under load the approval may come after
        // its second poll, which is then answered authorization_pending).
        let stats = try await sandbox.stats()
        #expect(stats["slow_downs"] == 1 && stats["device_polls"]! >= 2, "\(stats)")
        await sandbox.stop()
    }

    @Test func deviceLoginDeniedOrExpiredExitsThreeWithNothingStored() async throws {
        let (cli, sandbox) = try await Self.setUp(["--device-interval", "1", "--device-code-lifetime", "2"])
        defer { cli.cleanUp() }
        let denied = try RunningCommand(cli: cli, ["login", "--app", "disc", "--user", "tv", "--device"])
        let code = try #require(Self.userCode(denied))
        try await sandbox.admin("device", "user_code=\(code)&action=deny")
        let deniedResult = try denied.finish()
        #expect(deniedResult.status == 3 && deniedResult.stderr.contains("access denied"), "\(deniedResult.stderr)")
        let expired = try cli.run(["login", "--app", "disc", "--user", "tv", "--device"])
        #expect(expired.status == 3 && expired.stderr.contains("expired"), "\(expired.stderr)")
        #expect(try cli.run(["grants"]).stdout.contains("tv") == false)
        await sandbox.stop()
    }

    @Test func aPublicClientLogsInWithPKCEAndTheSandboxRefusesItWithout() async throws {
        let (cli, sandbox) = try await Self.setUp()
        defer { cli.cleanUp() }
        let added = try cli.run([
            "app", "add", "pub", "--issuer", sandbox.url, "--client-id", "sandbox-public", "--public",
        ])
        #expect(added.status == 0, "\(added.stderr)")
        #expect(try cli.run(["app", "show", "pub"]).stdout.contains("client auth:   none"))
        let login = try await cli.login(sandbox, app: "pub", user: "carol")
        #expect(login.status == 0, "\(login.stderr)")
        #expect(try cli.run(["token", "--app", "pub", "--user", "carol", "--refresh"]).status == 0)
        let plain = try await sandbox.request(
            .GET,
            "/auth/oauth2/auth?response_type=code&client_id=sandbox-public&redirect_uri=http://127.0.0.1/callback&state=s"
        )
        #expect(plain.status == 400 && plain.body.contains("code_challenge"))
        #expect(try cli.run(["app", "add", "p2", "--client-id", "c", "--public", "--no-pkce"]).status == 64)
        // A public client's device login: no secret either.
        let device = try RunningCommand(cli: cli, ["login", "--app", "pub", "--user", "tv", "--device"])
        try await sandbox.admin("device", "user_code=\(try #require(Self.userCode(device)))&action=approve")
        #expect(try device.finish().status == 0)
        #expect(try await sandbox.stats()["invalid_client"] == 0)
        await sandbox.stop()
    }

    @Test func clientCredentialsTokenIsRequestedAgainNearExpiry() async throws {
        let (cli, sandbox) = try await Self.setUp()
        defer { cli.cleanUp() }
        let login = try cli.run(["login", "--app", "disc", "--client-credentials"])
        #expect(login.status == 0 && login.stderr.contains("grant disc/@app"), "\(login.stderr)")
        let first = try cli.run(["token", "--app", "disc"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try await sandbox.stats()["client_credentials_grants"] == 1)
        // The sandbox's tokens live a year: asking for 400 days of validity makes it request a new one.
        let second = try cli.run(["token", "--app", "disc", "--min-valid", "400d"])
        #expect(second.status == 0 && second.stdout != first.stdout, "\(second.stderr)")
        #expect(try await sandbox.stats()["client_credentials_grants"] == 2)
        await sandbox.stop()
    }

    @Test func revokeOneGrantThenPurgeIt() async throws {
        let (cli, sandbox) = try await Self.setUp()
        defer { cli.cleanUp() }
        #expect(try await cli.login(sandbox, app: "disc", user: "alice").status == 0)
        let revoke = try cli.run(["revoke", "--app", "disc", "--user", "alice"])
        #expect(revoke.status == 0, "\(revoke.stderr)")
        let log = try await sandbox.request(.GET, "/admin/revocations")
        let entries = try JSONSerialization.jsonObject(with: Data(log.body.utf8)) as? [[String: Any]] ?? []
        #expect(entries.count == 1 && entries.first?["kind"] as? String == "refresh_token")
        #expect(try cli.run(["token", "--app", "disc", "--user", "alice"]).status == 3)
        let grants = try cli.run(["grants", "--json"]).stdout
        #expect(grants.contains("\"status\":\"revoked\"") && grants.contains("\"revoked_at\""), "\(grants)")
        #expect(try cli.run(["audit"]).status == 0)
        #expect(try cli.run(["revoke", "--app", "disc", "--user", "alice", "--purge"]).status == 0)
        #expect(try await sandbox.stats()["revocation_requests"] == 2)  // refresh, access; nothing more
        #expect(!(try cli.run(["grants"]).stdout.contains("alice")))
        await sandbox.stop()
    }
}
