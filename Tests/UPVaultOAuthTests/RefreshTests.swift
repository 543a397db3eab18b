import Foundation
import Testing
import UPVault
import UPVaultTesting

@testable import UPVaultOAuth

@Suite struct RefreshTests {
    @Test func freshTokenIsReturnedWithoutARequest() async throws {
        let fixture = try Fixture()
        try fixture.seed(grant: .some(fixture.now + 3600))
        let transport = StubTransport { _ throws(OAuthError) in json(200, tokenJSON) }
        #expect(try await fixture.client(transport).accessToken(app: "up", user: "alice") == "old-access")
        #expect(transport.requests.isEmpty)
    }

    @Test func expiringTokenIsRefreshedAndPersistedBeforeItIsReturned() async throws {
        let fixture = try Fixture()
        try fixture.seed(grant: .some(fixture.now + 60))
        let transport = StubTransport { _ throws(OAuthError) in json(200, tokenJSON) }
        let token = try await fixture.client(transport).accessToken(
            app: "up", user: "alice", minimumValidity: .seconds(300))
        #expect(token == "new-access")
        let stored = try #require(try fixture.grant())
        #expect(stored.accessToken == "new-access" && stored.refreshToken == "new-refresh")
        #expect(stored.expiresAt == fixture.now + 31_536_000 && stored.lastRefreshAt == fixture.now)
        #expect(
            stored.secretFingerprint
                == App.ClientSecret(value: "secret-1", addedAt: 0).fingerprint(clientID: "client-1"))
        #expect(transport.requests.first?.form["refresh_token"] == "old-refresh")
    }

    @Test func aResponseWithoutRefreshTokenKeepsTheOldOne() async throws {
        let fixture = try Fixture()
        try fixture.seed(grant: .some(fixture.now))
        let transport = StubTransport { _ throws(OAuthError) in
            json(200, #"{"access_token": "a2", "expires_in": "3600"}"#)
        }
        _ = try await fixture.client(transport).refresh(app: "up", user: "alice")
        let stored = try #require(try fixture.grant())
        #expect(
            stored.refreshToken == "old-refresh" && stored.accessToken == "a2" && stored.expiresAt == fixture.now + 3600
        )
    }

    @Test func invalidGrantMarksTheGrantAndNeverDeletesIt() async throws {
        let fixture = try Fixture()
        try fixture.seed(grant: .some(fixture.now))
        // With HTTP 200, as some providers did: the error member decides.
        let transport = StubTransport { _ throws(OAuthError) in
            json(200, #"{"error": "invalid_grant", "error_description": "Refresh token revoked"}"#)
        }
        let client = fixture.client(transport)
        await #expect(throws: OAuthError.invalidGrant(grant: "up/alice", reason: "Refresh token revoked")) {
            try await client.accessToken(app: "up", user: "alice")
        }
        let stored = try #require(try fixture.grant())
        #expect(stored.status == .needsReauthorization)
        #expect(stored.refreshToken == "old-refresh")
        await #expect(throws: OAuthError.self) { try await client.accessToken(app: "up", user: "alice") }
        #expect(transport.requests.count == 1, "a grant needing re-authorization is not refreshed again")
    }

    @Test func accessDeniedOnRefreshMeansRevoked() async throws {
        let fixture = try Fixture()
        try fixture.seed(grant: .some(fixture.now))
        let transport = StubTransport { _ throws(OAuthError) in json(400, #"{"error": "access_denied"}"#) }
        await #expect(throws: OAuthError.self) { try await fixture.client(transport).refresh(app: "up", user: "alice") }
        #expect(try fixture.grant()?.status == .revoked)
    }

    @Test func invalidClientFallsBackToASecretInsideItsGraceWindow() async throws {
        let fixture = try Fixture()
        try fixture.seed(
            secrets: [
                App.ClientSecret(value: "new-secret", addedAt: fixture.now - 10),
                App.ClientSecret(value: "old-secret", addedAt: fixture.now - 1000, validUntil: fixture.now + 86_400),
                App.ClientSecret(value: "dead-secret", addedAt: fixture.now - 9000, validUntil: fixture.now - 1),
            ],
            grant: .some(fixture.now))
        let transport = StubTransport { request throws(OAuthError) in
            request.form["client_secret"] == "old-secret"
                ? json(200, tokenJSON) : json(401, #"{"error": "invalid_client"}"#)
        }
        _ = try await fixture.client(transport).refresh(app: "up", user: "alice")
        #expect(transport.requests.map { $0.form["client_secret"] } == ["new-secret", "old-secret"])
        #expect(
            try fixture.grant()?.secretFingerprint
                == App.ClientSecret(value: "old-secret", addedAt: 0).fingerprint(clientID: "client-1"))
    }

    @Test func concurrentCallersInOneProcessShareOneRefresh() async throws {
        let fixture = try Fixture()
        try fixture.seed(grant: .some(fixture.now))
        let transport = StubTransport { _ throws(OAuthError) in
            try? await Task.sleep(for: .milliseconds(100))
            return json(200, tokenJSON)
        }
        let client = fixture.client(transport)
        let tokens = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<16 { group.addTask { try await client.accessToken(app: "up", user: "alice") } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(Set(tokens) == ["new-access"])
        #expect(transport.requests.count == 1)
    }

    @Test func separateHandlesAreSerialisedByTheEntryLock() async throws {
        let fixture = try Fixture()
        try fixture.seed(grant: .some(fixture.now))
        let transport = StubTransport { _ throws(OAuthError) in
            try? await Task.sleep(for: .milliseconds(100))
            return json(200, tokenJSON)
        }
        // Two vault handles, as two processes would have: only the entry lock stands between them.
        let second = try Vault.open(at: fixture.vault.path, passphrase: secure(testPassphrase), limits: testLimits)
        let now = fixture.now
        let clients = [
            fixture.client(transport),
            OAuthClient(vault: second, transport: transport, logger: Vault.silentLogger, now: { now }),
        ]
        try await withThrowingTaskGroup(of: String.self) { group in
            for client in clients { group.addTask { try await client.accessToken(app: "up", user: "alice") } }
            for try await token in group { #expect(token == "new-access") }
        }
        #expect(transport.requests.count == 1)
    }
}
