import Foundation
import Testing
import UPVault
import UPVaultTesting

@testable import UPVaultOAuth

/// A refresh token is never sent twice when it may already have been redeemed: the grant carries a
/// durable mark while its refresh is in flight, and a refresher that finds the mark left behind by a
/// killed process does not resend a rotating provider's token.
@Suite struct InterruptedRefreshTests {
    static func seed(_ fixture: Fixture, rotates: Bool, interrupted: Bool) throws {
        var app = try fixture.seed(grant: .some(fixture.now))
        app.rotatesRefreshTokens = rotates
        try fixture.vault.put(app)
        var grant = try #require(try fixture.grant())
        if interrupted { grant.refreshStartedAt = fixture.now - 5 }
        try fixture.vault.put(grant)
    }

    @Test func theMarkIsDurableWhileTheRequestIsOutAndGoneAfter() async throws {
        let fixture = try Fixture()
        try Self.seed(fixture, rotates: true, interrupted: false)
        let vault = fixture.vault
        let transport = StubTransport { _ throws(OAuthError) in
            // What a process killed now would leave behind: the mark, on disk.
            let stored = try? vault.entry(Grant.self, named: "up/alice")
            #expect(stored?.refreshStartedAt == 1_700_000_000)
            return json(200, tokenJSON)
        }
        #expect(try await fixture.client(transport).refresh(app: "up", user: "alice").accessToken == "new-access")
        #expect(try fixture.grant()?.refreshStartedAt == nil)
        #expect(transport.requests.count == 1)
    }

    /// A mark left behind shows: `grants --json` says the refresh is pending and `audit` names it, with
    /// what to do for each kind of provider; once a refresher has dealt with it, neither does.
    @Test(arguments: [true, false])
    func aMarkLeftBehindIsShownAndAudited(rotates: Bool) async throws {
        let fixture = try Fixture()
        try Self.seed(fixture, rotates: rotates, interrupted: true)
        func audit() throws -> [AuditReport.Finding] {
            try Audit.run(store: fixture.vault, incident: nil, expiringWithin: 0, now: fixture.now).findings
        }
        #expect(GrantSummary(try #require(try fixture.grant())).refreshPending)
        let findings = try audit()
        #expect(findings.map(\.kind) == ["refresh_interrupted"] && findings[0].subject == "up/alice")
        #expect(findings[0].detail.contains(rotates ? "log the user in again" : "refresh it again"))
        let transport = StubTransport { _ throws(OAuthError) in json(200, tokenJSON) }
        let client = fixture.client(transport)
        if rotates {
            await #expect(throws: OAuthError.invalidGrant(grant: "up/alice", reason: OAuthClient.interruptedReason)) {
                try await client.refresh(app: "up", user: "alice")
            }
            #expect(transport.requests.isEmpty, "the old token is not sent again")
        } else {
            #expect(try await client.refresh(app: "up", user: "alice").accessToken == "new-access")
            #expect(transport.requests.count == 1)
        }
        #expect(GrantSummary(try #require(try fixture.grant())).refreshPending == false)
        #expect(try audit().map(\.kind) == (rotates ? ["needs_reauthorization"] : []))
    }

    /// Another process compacts the vault while the request is out: every entry gets a new version, the
    /// grant's content does not change, and the new tokens (with a rotating provider, the only valid
    /// refresh token) are stored, not dropped as a conflict. A real change in between still is one.
    @Test(arguments: [false, true])
    func aCompactionElsewhereDuringTheRequestKeepsTheNewTokens(changedMeanwhile: Bool) async throws {
        let fixture = try Fixture()
        try Self.seed(fixture, rotates: true, interrupted: false)
        let other = try Vault.open(at: fixture.vault.path, passphrase: secure(testPassphrase), limits: testLimits)
        let transport = StubTransport { _ throws(OAuthError) in
            do {
                if changedMeanwhile {
                    var changed = try #require(try other.entry(Grant.self, named: "up/alice"))
                    changed.scope = "changed elsewhere"
                    try other.put(changed)
                }
                try other.compact()
            } catch {
                Issue.record(error)
            }
            return json(200, tokenJSON)
        }
        let client = fixture.client(transport)
        if changedMeanwhile {
            await #expect(throws: OAuthError.vault(.conflict(EntryKey(.grant, "up/alice")))) {
                try await client.refresh(app: "up", user: "alice")
            }
            #expect(try fixture.grant()?.scope == "changed elsewhere")
        } else {
            #expect(try await client.refresh(app: "up", user: "alice").accessToken == "new-access")
            let stored = try #require(try fixture.grant())
            #expect(stored.refreshToken == "new-refresh" && stored.refreshStartedAt == nil)
            #expect(try other.entry(Grant.self, named: "up/alice")?.accessToken == "new-access")
        }
        #expect(transport.requests.count == 1)
    }

    @Test func aRotatingProvidersTokenIsNotSentAgainAfterAnInterruption() async throws {
        let fixture = try Fixture()
        try Self.seed(fixture, rotates: true, interrupted: true)
        let transport = StubTransport { _ throws(OAuthError) in json(200, tokenJSON) }
        await #expect(throws: OAuthError.invalidGrant(grant: "up/alice", reason: OAuthClient.interruptedReason)) {
            _ = try await fixture.client(transport).accessToken(app: "up", user: "alice")
        }
        #expect(transport.requests.isEmpty, "the possibly spent refresh token was sent again")
        let stored = try #require(try fixture.grant())
        #expect(stored.status == .needsReauthorization && stored.refreshStartedAt == nil)
        #expect(stored.statusReason?.hasPrefix("interrupted") == true)
    }

    @Test func aNonRotatingProviderGetsTheTokenAgain() async throws {
        let fixture = try Fixture()
        try Self.seed(fixture, rotates: false, interrupted: true)
        let transport = StubTransport { _ throws(OAuthError) in json(200, tokenJSON) }
        #expect(try await fixture.client(transport).accessToken(app: "up", user: "alice") == "new-access")
        #expect(try fixture.grant()?.refreshStartedAt == nil)
    }

    /// A bulk run keeps the same rule for a mark a single refresh left behind (`upvault token` killed
    /// mid-refresh, then `refresh --all`): a rotating provider's token is not sent, the grant is reported
    /// as interrupted; a non-rotating provider's is sent, and the mark cleared.
    @Test(arguments: [true, false])
    func aBulkRunKeepsTheRuleForAMarkLeftBehind(rotates: Bool) async throws {
        let fixture = try Fixture()
        try Self.seed(fixture, rotates: rotates, interrupted: true)
        let transport = StubTransport { _ throws(OAuthError) in json(200, tokenJSON) }
        let report = try await fixture.client(transport).bulkRefresh(BulkRefreshOptions(app: "up"))
        let stored = try #require(try fixture.grant())
        #expect(stored.refreshStartedAt == nil)
        if rotates {
            #expect(transport.requests.isEmpty, "the possibly spent refresh token was sent again")
            #expect(report.refreshed == 0)
            #expect(
                report.needsReauthorization == [
                    BulkRefreshIssue(grant: "up/alice", reason: OAuthClient.interruptedReason)
                ])
            #expect(stored.status == .needsReauthorization && stored.statusReason == OAuthClient.interruptedReason)
        } else {
            #expect(transport.requests.count == 1 && report.refreshed == 1)
            #expect(stored.status == .active && stored.accessToken == "new-access")
        }
    }

    @Test(arguments: [
        ("timed out waiting for the response", true),
        ("the connection was closed before the response was complete", true),
        ("connection timed out", false), ("connection failed (refused or unreachable)", false),
    ])
    func aLostAnswerKeepsTheMarkARefusedConnectionDoesNot(reason: String, keepsMark: Bool) async throws {
        let fixture = try Fixture()
        try Self.seed(fixture, rotates: true, interrupted: false)
        let transport = StubTransport { _ throws(OAuthError) in throw .transport(reason) }
        await #expect(throws: OAuthError.transport(reason)) {
            _ = try await fixture.client(transport).refresh(app: "up", user: "alice")
        }
        #expect((try fixture.grant()?.refreshStartedAt != nil) == keepsMark)
    }

    @Test func aProviderAnswerClearsTheMark() async throws {
        let fixture = try Fixture()
        try Self.seed(fixture, rotates: true, interrupted: false)
        let transport = StubTransport { _ throws(OAuthError) in json(503, "{}") }
        await #expect(throws: OAuthError.self) {
            _ = try await fixture.client(transport).refresh(app: "up", user: "alice")
        }
        #expect(try fixture.grant()?.refreshStartedAt == nil)
        #expect(try fixture.grant()?.status == .active)
    }
}
