import Foundation
import Synchronization
import Testing
import UPVault
import UPVaultTesting

@testable import UPVaultOAuth

/// A clock the test owns: `sleep` moves it forward at once and records how long was asked.
final class VirtualClock: Sendable {
    private let state: Mutex<(now: Int64, slept: [Int64])>

    init(_ start: Int64) { state = Mutex((start, [])) }

    var now: Int64 { state.withLock { $0.now } }
    var slept: [Int64] { state.withLock { $0.slept } }

    func sleep(_ duration: Duration) {
        state.withLock {
            $0.slept.append(duration.components.seconds)
            $0.now += duration.components.seconds
        }
    }

    func client(_ fixture: Fixture, _ transport: StubTransport) -> OAuthClient {
        OAuthClient(
            vault: fixture.vault, transport: transport, logger: Vault.silentLogger, now: { self.now },
            sleep: { self.sleep($0) })
    }
}

extension Fixture {
    /// App `dev` on https://id.example: device and revocation endpoints; public or confidential.
    @discardableResult
    func seedModernApp(
        public isPublic: Bool = false, authentication: App.ClientAuthentication = .clientSecretBasic
    )
        throws -> App
    {
        let app = App(
            name: "dev", provider: "generic", clientID: "cli-1",
            clientSecrets: isPublic ? [] : [App.ClientSecret(value: "s3cret", addedAt: now - 100)],
            redirectURI: "http://127.0.0.1/callback", scopes: ["read"],
            endpoints: App.Endpoints(
                authorize: "https://id.example/authorize", token: "https://id.example/token",
                revocation: "https://id.example/revoke", deviceAuthorization: "https://id.example/device",
                issuer: "https://id.example"),
            clientAuthentication: isPublic ? .none : authentication, supportsPKCE: true)
        try vault.put(app)
        return app
    }
}

@Suite struct ClientAuthenticationTests {
    @Test func aPublicClientSendsItsIdAndNoSecretAndAlwaysPKCE() async throws {
        let fixture = try Fixture()
        var app = try fixture.seedModernApp(public: true)
        app.supportsPKCE = false  // stored wrongly: a public client sends PKCE all the same
        try fixture.vault.put(app)
        let transport = StubTransport { _ throws(OAuthError) in json(200, tokenJSON) }
        let client = fixture.client(transport)
        let request = try client.authorize(app: "dev")
        #expect(request.url.contains("code_challenge=") && request.url.contains("code_challenge_method=S256"))
        let state = try #require(URLComponents(string: request.url)?.queryItems?.first { $0.name == "state" }?.value)
        let grant = try await client.completeAuthorization(
            request, redirectURL: "http://127.0.0.1:5000/callback?code=c1&state=\(state)", user: "alice")
        let sent = try #require(transport.requests.first)
        #expect(sent.form["client_id"] == "cli-1" && sent.form["client_secret"] == nil)
        #expect(sent.form["code_verifier"] != nil)
        #expect(!sent.headers.contains { $0.0 == "Authorization" })
        #expect(grant.secretFingerprint == nil)
        #expect(throws: OAuthError.self) { try client.rotateSecret(app: "dev", newSecret: "x", previousValidUntil: 0) }
    }

    @Test func basicAuthenticationFormEncodesBothParts() async throws {
        let fixture = try Fixture()
        var app = try fixture.seedModernApp()
        app.clientID = "cli:1"
        app.clientSecrets = [App.ClientSecret(value: "p@ss word", addedAt: 0)]
        try fixture.vault.put(app)
        let transport = StubTransport { _ throws(OAuthError) in json(200, tokenJSON) }
        _ = try await fixture.client(transport).loginClientCredentials(app: "dev")
        let sent = try #require(transport.requests.first)
        let header = try #require(sent.headers.first { $0.0 == "Authorization" }?.1)
        let decoded = String(decoding: Data(base64Encoded: String(header.dropFirst(6)))!, as: UTF8.self)
        #expect(decoded == "cli%3A1:p%40ss%20word")
        #expect(sent.form["client_secret"] == nil && sent.form["grant_type"] == "client_credentials")
    }

    @Test func registeringAPublicClientRefusesASecretOrNoPKCE() throws {
        let endpoints = App.Endpoints(authorize: nil, token: "https://id.example/token")
        #expect(throws: OAuthError.self) {
            try ProviderPreset.generic.app(
                named: "p", clientID: "c", clientSecret: nil, redirectURI: "http://127.0.0.1/cb", endpoints: endpoints,
                pkce: false, now: 0)
        }
        #expect(throws: OAuthError.self) {
            try ProviderPreset.generic.app(
                named: "p", clientID: "c", clientSecret: "s", redirectURI: "http://127.0.0.1/cb", endpoints: endpoints,
                clientAuthentication: App.ClientAuthentication.none, now: 0)
        }
        let app = try ProviderPreset.generic.app(
            named: "p", clientID: "c", clientSecret: nil, redirectURI: "http://127.0.0.1/cb", endpoints: endpoints,
            now: 0)
        #expect(app.isPublic && app.supportsPKCE && app.clientSecrets.isEmpty)
    }
}

@Suite struct ClientCredentialsTests {
    @Test func theAppTokenIsStoredAndRequestedAgainBeforeItExpires() async throws {
        let fixture = try Fixture()
        try fixture.seedModernApp()
        let count = Mutex(0)
        let transport = StubTransport { request throws(OAuthError) in
            let n = count.withLock {
                $0 += 1
                return $0
            }
            #expect(request.form["grant_type"] == "client_credentials" && request.form["scope"] == "read")
            return json(200, #"{"access_token": "app-\#(n)", "token_type": "Bearer", "expires_in": 3600}"#)
        }
        let clock = VirtualClock(fixture.now)
        let client = clock.client(fixture, transport)
        let grant = try await client.loginClientCredentials(app: "dev")
        #expect(grant.entryName == "dev/@app" && grant.grantType == .clientCredentials && grant.refreshToken == nil)
        #expect(try await client.accessToken(app: "dev", user: Grant.appUser) == "app-1")
        clock.sleep(.seconds(3500))  // within the five-minute margin of its expiry
        async let first = client.accessToken(app: "dev", user: Grant.appUser)
        async let second = client.accessToken(app: "dev", user: Grant.appUser)
        #expect(try await [first, second] == ["app-2", "app-2"])  // single-flight: one request
        #expect(count.withLock { $0 } == 2)
        let stored = try #require(try fixture.vault.entry(Grant.self, named: "dev/@app"))
        #expect(stored.accessToken == "app-2" && stored.grantType == .clientCredentials && stored.refreshToken == nil)
    }

    @Test func aPublicClientHasNoClientCredentialsAndAUserCannotTakeTheAppLabel() async throws {
        let fixture = try Fixture()
        try fixture.seedModernApp(public: true)
        let transport = StubTransport { _ throws(OAuthError) in json(200, tokenJSON) }
        let client = fixture.client(transport)
        await #expect(throws: OAuthError.self) { try await client.loginClientCredentials(app: "dev") }
        let request = try client.authorize(app: "dev")
        let state = try #require(URLComponents(string: request.url)?.queryItems?.first { $0.name == "state" }?.value)
        await #expect(throws: OAuthError.self) {
            try await client.completeAuthorization(
                request, redirectURL: "http://127.0.0.1/callback?code=c&state=\(state)", user: Grant.appUser)
        }
        #expect(try fixture.vault.entry(Grant.self, named: "dev/@app") == nil)
    }
}

@Suite struct DeviceFlowTests {
    static let started =
        #"{"device_code": "dc-1", "user_code": "WDJB-MJHT", "verification_uri": "https://id.example/device", "verification_uri_complete": "https://id.example/device?user_code=WDJB-MJHT", "expires_in": 600, "interval": 5}"#

    /// A provider that answers the device endpoint with `start` and then each poll with the next of `polls`.
    static func provider(start: String = started, polls: [HTTPResult]) -> StubTransport {
        let queue = Mutex(polls)
        return StubTransport { request throws(OAuthError) in
            if request.url.hasSuffix("/device") { return json(200, start) }
            return queue.withLock { $0.isEmpty ? json(400, #"{"error": "authorization_pending"}"#) : $0.removeFirst() }
        }
    }

    static func error(_ code: String) -> HTTPResult { json(400, #"{"error": "\#(code)"}"#) }

    @Test func pendingThenSlowDownThenApprovalStoresTheGrant() async throws {
        let fixture = try Fixture()
        try fixture.seedModernApp(public: true)
        let transport = Self.provider(polls: [
            Self.error("authorization_pending"), Self.error("slow_down"), Self.error("authorization_pending"),
            json(200, tokenJSON),
        ])
        let clock = VirtualClock(fixture.now)
        let client = clock.client(fixture, transport)
        let login = try await client.startDeviceLogin(app: "dev")
        #expect(login.userCode == "WDJB-MJHT" && login.verificationURI == "https://id.example/device")
        #expect(login.verificationURIComplete == "https://id.example/device?user_code=WDJB-MJHT")
        let grant = try await client.completeDeviceLogin(login, user: "tv")
        #expect(clock.slept == [5, 5, 10, 10])  // slow_down: 5 seconds more for every later poll
        #expect(grant.entryName == "dev/tv" && grant.accessToken == "new-access")
        #expect(try fixture.vault.entry(Grant.self, named: "dev/tv")?.refreshToken == "new-refresh")
        let polls = transport.requests.dropFirst()
        #expect(polls.count == 4)
        #expect(
            polls.allSatisfy {
                $0.form["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code"
                    && $0.form["device_code"] == "dc-1"
                    && $0.form["client_id"] == "cli-1" && $0.form["client_secret"] == nil
            })
        #expect(transport.requests.first?.form["scope"] == "read")
    }

    @Test func denialAndExpiryEndTheLoginWithNothingStored() async throws {
        for (answer, expected) in [
            ("access_denied", OAuthError.accessDenied), ("expired_token", .deviceCodeExpired(app: "dev")),
        ] {
            let fixture = try Fixture()
            try fixture.seedModernApp()
            let clock = VirtualClock(fixture.now)
            let client = clock.client(
                fixture, Self.provider(polls: [Self.error("authorization_pending"), Self.error(answer)]))
            let login = try await client.startDeviceLogin(app: "dev")
            await #expect(throws: expected) { try await client.completeDeviceLogin(login, user: "tv") }
            #expect(try fixture.vault.entry(Grant.self, named: "dev/tv") == nil)
            #expect(expected.category == .needsReauthorization)
        }
    }

    @Test func theLoginEndsWhenTheCodeExpiresEvenIfTheProviderKeepsSayingPending() async throws {
        let fixture = try Fixture()
        try fixture.seedModernApp()
        let clock = VirtualClock(fixture.now)
        let transport = Self.provider(
            start: Self.started.replacing(#""expires_in": 600"#, with: #""expires_in": 30"#), polls: [])
        let client = clock.client(fixture, transport)
        let login = try await client.startDeviceLogin(app: "dev")
        await #expect(throws: OAuthError.deviceCodeExpired(app: "dev")) {
            try await client.completeDeviceLogin(login, user: "tv")
        }
        #expect(transport.requests.count == 1 + 5)  // polls at 5, 10, 15, 20, 25 s; none at 30
    }

    @Test func unreachableProviderPollsLessOftenUntilItAnswers() async throws {
        let fixture = try Fixture()
        try fixture.seedModernApp()
        let clock = VirtualClock(fixture.now)
        let transport = Self.provider(polls: [json(503, "down"), json(503, "down"), json(200, tokenJSON)])
        let client = clock.client(fixture, transport)
        _ = try await client.completeDeviceLogin(try await client.startDeviceLogin(app: "dev"), user: "tv")
        #expect(clock.slept == [5, 10, 20])
    }

    @Test(arguments: [
        (#""interval": 5"#, #""interval": 0"#), (#""interval": 5"#, #""interval": -5"#),
        (#""interval": 5"#, #""interval": 100000"#), (#""expires_in": 600"#, #""expires_in": 0"#),
        (#""expires_in": 600"#, #""expires_in": -1"#), (#""expires_in": 600"#, #""expires_in": 99999999999"#),
        (#""https://id.example/device","#, #""http://id.example/device","#),
        (#""https://id.example/device","#, #""https://id.example/\u001b[2Jdevice","#),
        (#""WDJB-MJHT","#, #""WDJB\u001b]0;owned\u0007","#), (#""dc-1""#, #""""#),
        (#""verification_uri_complete": "https"#, #""verification_uri_complete": "javascript"#),
    ])
    func hostileDeviceAnswersAreRefusedBeforeAnythingIsShownOrPolled(original: String, hostile: String) async throws {
        let fixture = try Fixture()
        try fixture.seedModernApp()
        let transport = Self.provider(
            start: Self.started.replacing(original, with: hostile), polls: [json(200, tokenJSON)])
        let client = VirtualClock(fixture.now).client(fixture, transport)
        #expect(Self.started.contains(original))
        await #expect(throws: OAuthError.self) { try await client.startDeviceLogin(app: "dev") }
        #expect(transport.requests.count == 1)
    }

    @Test func anOversizedDeviceAnswerIsRefused() async throws {
        let fixture = try Fixture()
        try fixture.seedModernApp()
        let huge = Self.started.replacing(#""WDJB-MJHT","#, with: "\"" + String(repeating: "A", count: 200) + "\",")
        let client = VirtualClock(fixture.now).client(fixture, Self.provider(start: huge, polls: []))
        await #expect(throws: OAuthError.self) { try await client.startDeviceLogin(app: "dev") }
    }
}

@Suite struct RevocationTests {
    static func seedGrant(_ fixture: Fixture) throws {
        try fixture.vault.put(
            Grant(
                app: "dev", user: "alice", accessToken: "acc-1", refreshToken: "ref-1", issuedAt: fixture.now,
                expiresAt: fixture.now + 3600))
    }

    @Test func revokeSendsRefreshThenAccessTokenAndKeepsAReceipt() async throws {
        let fixture = try Fixture()
        try fixture.seedModernApp()
        try Self.seedGrant(fixture)
        let transport = StubTransport { _ throws(OAuthError) in json(200, "") }
        let client = fixture.client(transport)
        let revoked = try #require(try await client.revoke(app: "dev", user: "alice"))
        #expect(transport.requests.map { $0.form["token"] } == ["ref-1", "acc-1"])
        #expect(transport.requests.map { $0.form["token_type_hint"] } == ["refresh_token", "access_token"])
        #expect(transport.requests.allSatisfy { $0.url == "https://id.example/revoke" })
        #expect(revoked.status == .revoked && revoked.revokedAt == fixture.now && revoked.revocationStatus == 200)
        #expect(revoked.revocationEndpoint == "https://id.example/revoke" && revoked.revocationStartedAt == nil)
        #expect(try fixture.vault.entry(Grant.self, named: "dev/alice") == revoked)
        // Already revoked: nothing is sent again; --purge deletes it.
        #expect(try await client.revoke(app: "dev", user: "alice", purge: true) == nil)
        #expect(transport.requests.count == 2)
        #expect(try fixture.vault.entry(Grant.self, named: "dev/alice") == nil)
        await #expect(throws: OAuthError.self) { try await client.accessToken(app: "dev", user: "alice") }
    }

    @Test func aRevocationEndpointThatRedirectsGetsNothingMoreAndTheGrantStaysActive() async throws {
        let fixture = try Fixture()
        try fixture.seedModernApp()
        try Self.seedGrant(fixture)
        let transport = StubTransport { _ throws(OAuthError) in
            json(307, "", headers: [("Location", "https://evil.example/collect")])
        }
        await #expect(throws: OAuthError.self) { try await fixture.client(transport).revoke(app: "dev", user: "alice") }
        #expect(transport.requests.count == 1 && transport.requests[0].url == "https://id.example/revoke")
        let grant = try #require(try fixture.vault.entry(Grant.self, named: "dev/alice"))
        #expect(grant.status == .active && grant.revokedAt == nil && grant.revocationStartedAt == nil)
        #expect(grant.revocationError?.contains("redirected") == true)
        let audit = try Audit.run(store: fixture.vault, incident: nil, expiringWithin: 0, now: fixture.now)
        #expect(audit.findings.map(\.kind) == ["revocation_failed"])
    }

    @Test func aLostAnswerLeavesTheRevocationPendingForAudit() async throws {
        let fixture = try Fixture()
        try fixture.seedModernApp()
        try Self.seedGrant(fixture)
        let transport = StubTransport { _ throws(OAuthError) in throw .transport("timed out waiting for the response") }
        await #expect(throws: OAuthError.self) { try await fixture.client(transport).revoke(app: "dev", user: "alice") }
        let grant = try #require(try fixture.vault.entry(Grant.self, named: "dev/alice"))
        #expect(grant.revocationStartedAt != nil)
        let audit = try Audit.run(store: fixture.vault, incident: nil, expiringWithin: 0, now: fixture.now)
        #expect(audit.findings.map(\.kind) == ["revocation_pending"])
        // The next revoke sends it again and completes it.
        let ok = StubTransport { _ throws(OAuthError) in json(200, "") }
        #expect(try await fixture.client(ok).revoke(app: "dev", user: "alice")?.revokedAt != nil)
        #expect(
            try Audit.run(store: fixture.vault, incident: nil, expiringWithin: 0, now: fixture.now).findings.isEmpty)
    }

    @Test func aProviderThatRevokesOnlyRefreshTokensStillCompletes() async throws {
        let fixture = try Fixture()
        try fixture.seedModernApp()
        try Self.seedGrant(fixture)
        let transport = StubTransport { request throws(OAuthError) in
            request.form["token_type_hint"] == "access_token"
                ? json(400, #"{"error": "unsupported_token_type"}"#) : json(200, "")
        }
        #expect(try await fixture.client(transport).revoke(app: "dev", user: "alice")?.status == .revoked)
    }

    @Test func bulkRevokeSendsInFlightGrantsFirstSkipsDoneOnesAndReportsFailures() async throws {
        let fixture = try Fixture()
        try fixture.seedModernApp()
        for index in 1...5 {
            var grant = Grant(
                app: "dev", user: "u\(index)", accessToken: "acc-\(index)", refreshToken: "ref-\(index)",
                issuedAt: fixture.now - Int64(index), expiresAt: nil)
            if index == 1 { grant.revokedAt = fixture.now - 10 }
            if index == 4 { grant.revocationStartedAt = fixture.now - 10 }
            try fixture.vault.put(grant)
        }
        let transport = StubTransport { request throws(OAuthError) in
            request.form["token"] == "ref-5" ? json(400, #"{"error": "invalid_request"}"#) : json(200, "")
        }
        let issues = Mutex<[String]>([])
        let report = try await VirtualClock(fixture.now).client(fixture, transport).bulkRevoke(
            BulkRevokeOptions(app: "dev", concurrency: 1), issue: { item in issues.withLock { $0.append(item.grant) } })
        #expect(report.selected == 5 && report.revoked == 3 && report.alreadyRevoked == 1)
        #expect(report.resumedInFlight == 1 && report.failed.map(\.grant) == ["dev/u5"])
        #expect(issues.withLock { $0 } == ["dev/u5"])
        #expect(transport.requests.first?.form["token"] == "ref-4")  // the one in flight at a crash first
        #expect(!transport.requests.contains { $0.form["token"] == "ref-1" })
        #expect(try fixture.vault.entry(RevokeRun.self, named: RevokeRun.name) == nil)
        let failed = try #require(try fixture.vault.entry(Grant.self, named: "dev/u5"))
        #expect(failed.status == .active && failed.revocationError != nil && failed.revocationStartedAt == nil)
    }
}
