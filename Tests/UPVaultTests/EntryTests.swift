import Testing
import UPVaultTesting

@testable import UPVault

/// Apps and grants round-trip as typed entries; the names they get are the ones the OAuth module uses.
@Suite struct EntryTests {
    static let app = App(
        name: "up", provider: "jawbone", clientID: "client-id",
        clientSecrets: [
            App.ClientSecret(value: "new-secret", addedAt: 1_397_000_000),
            App.ClientSecret(value: "old-secret", addedAt: 1_390_000_000, validUntil: 1_398_384_000),
        ],
        redirectURI: "https://example.com/callback", scopes: ["basic_read", "move_read"],
        endpoints: App.Endpoints(
            authorize: "https://jawbone.com/auth/oauth2/auth", token: "https://jawbone.com/auth/oauth2/token"))

    static let grant = Grant(
        app: "up", user: "andy@example.com", providerUserID: "jd7m17NGC0", accessToken: "access-token",
        refreshToken: "refresh-token", issuedAt: 1_396_000_000, expiresAt: 1_427_536_000)

    @Test func appsAndGrantsRoundTrip() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        try vault.put(Self.app)
        try vault.put(Self.grant)
        let reopened = try reopen(vault.path)
        #expect(try reopened.entry(App.self, named: "up") == Self.app)
        #expect(try reopened.entry(Grant.self, named: "up/andy@example.com") == Self.grant)
        #expect(try reopened.names(of: .grant) == ["up/andy@example.com"])
        #expect(try reopened.entry(App.self, named: "missing") == nil)
        #expect(try reopened.verify().entryCounts == [.secret: 0, .app: 1, .grant: 1, .refreshRun: 0])
    }

    @Test func grantNamesNeedAppAndUser() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        var grant = Self.grant
        grant.user = "a/b"
        #expect(throws: VaultError.invalidName(kind: .grant, reason: "a grant is named APP/USER")) {
            try vault.put(grant)
        }
    }

    @Test func anEntryOfTheWrongShapeIsReportedNotCrashed() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        try vault.put(EntryKey(.app, "broken"), value: secure("{not json"))
        #expect(throws: VaultError.undecodableEntry(EntryKey(.app, "broken"))) {
            try vault.entry(App.self, named: "broken")
        }
        #expect(throws: VaultError.undecodableEntry(EntryKey(.app, "broken"))) { try vault.verify() }
    }
}
