import Foundation
import Testing
import UPVault
import UPVaultSandbox
import UPVaultTesting

@testable import UPVaultOAuth

/// What the CLI does, done through the public library API alone: an app embedding the libraries gets
/// the same rules.
@Suite struct LibraryOperationTests {
    func jawboneApp(_ fixture: Fixture, name: String = "up", secret: String = "secret-1") throws -> App {
        try ProviderPreset.jawbone.app(
            named: name, clientID: "client-1", clientSecret: secret, redirectURI: "https://localhost/callback",
            endpoints: try ProviderPreset.jawbone.endpoints(EndpointOverrides(providerURL: "http://127.0.0.1:9")),
            now: fixture.now)
    }

    @Test func addAppRefusesToReplaceUnlessAsked() throws {
        let fixture = try Fixture()
        try fixture.vault.addApp(named: "up", replace: false) { try jawboneApp(fixture) }
        #expect(
            try fixture.vault.entry(App.self, named: "up")?.endpoints.token == "http://127.0.0.1:9/auth/oauth2/token")
        var built = false
        #expect(throws: OAuthError.appExists("up")) {
            try fixture.vault.addApp(named: "up", replace: false) {
                built = true
                return try jawboneApp(fixture)
            }
        }
        #expect(!built, "the secret prompt must come after the refusal")
        try fixture.vault.addApp(named: "up", replace: true) { try jawboneApp(fixture, secret: "secret-2") }
        #expect(try fixture.vault.entry(App.self, named: "up")?.currentSecret?.value == "secret-2")
        #expect(throws: OAuthError.self) {
            try ProviderPreset.generic.endpoints()  // generic needs its endpoints given
        }
        #expect(throws: OAuthError.self) {
            try ProviderPreset.jawbone.app(
                named: "x", clientID: "c", clientSecret: "s", redirectURI: "http://example.com/cb",
                endpoints: ProviderPreset.jawbone.endpoints!, now: 0)
        }
    }

    @Test func removeAppCascadesOnlyWhenAsked() throws {
        let fixture = try Fixture()
        try fixture.seed()
        #expect(throws: OAuthError.appHasGrants(app: "up", count: 1)) {
            try fixture.vault.removeApp(named: "up", includingGrants: false)
        }
        #expect(try fixture.vault.contains(EntryKey(.app, "up")))
        #expect(try fixture.vault.removeApp(named: "up", includingGrants: true) == 1)
        #expect(try fixture.vault.names(of: .grant).isEmpty && fixture.vault.names(of: .app).isEmpty)
    }

    @Test func importGrantsChecksEveryItemBeforeWritingAny() throws {
        let fixture = try Fixture()
        try fixture.seed(grant: nil)
        let good = GrantImport.Item(user: "u1", accessToken: "a1", refreshToken: "r1", expiresIn: 3600)
        for bad in [
            GrantImport.Item(user: "u2", accessToken: "a\r\nX"),
            GrantImport.Item(user: "u2", accessToken: "a2", expiresIn: Int64.max),
            GrantImport.Item(user: "bad/name", accessToken: "a2"),
            GrantImport.Item(user: "u1", accessToken: "a2"),
        ] {
            #expect(throws: GrantImportError.self) {
                try GrantImport.importItems([good, bad], into: fixture.vault, app: "up", now: fixture.now)
            }
            #expect(try fixture.vault.names(of: .grant).isEmpty, "a bad file imported something")
        }
        #expect(try GrantImport.importItems([good], into: fixture.vault, app: "up", now: fixture.now) == 1)
        #expect(try fixture.vault.entry(Grant.self, named: "up/u1")?.expiresAt == fixture.now + 3600)
        #expect(throws: GrantImportError.grantExists("up/u1")) {
            try GrantImport.importItems([good], into: fixture.vault, app: "up", now: fixture.now)
        }
        let path = fixture.directory + "/grants.json"
        try Data(#"[{"user": "u3", "access_token": "a3"}]"#.utf8).write(to: URL(fileURLWithPath: path))
        #expect(try GrantImport.importFile(path, into: fixture.vault, app: "up", now: fixture.now) == 1)
        try Data(#"{"user": "u4"}"#.utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: GrantImportError.malformed(path: path)) {
            try GrantImport.importFile(path, into: fixture.vault, app: "up", now: fixture.now)
        }
    }

    /// A file several times the stream's buffer is read whole, in two passes; a bad item far into it
    /// imports nothing; the JSON's own mistakes (an item too large, text after the array, a bad type)
    /// are refused.
    @Test func importStreamsAFileLargerThanItsBuffer() throws {
        let fixture = try Fixture()
        try fixture.seed(grant: nil)
        let path = fixture.directory + "/grants.json"
        func write(_ text: String) throws { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) }
        let padding = String(repeating: "p", count: 200)
        let items = (0..<12_000).map {
            #"{"user": "u\#($0)", "access_token": "a\#($0)", "refresh_token": "r\#($0)", "expires_in": 60, "note": "\#(padding)"}"#
        }
        #expect(items.joined().utf8.count > 2 * JSONArrayStream.chunkByteCount)
        var bad = items
        bad[11_000] = #"{"user": "u-bad", "access_token": "a b"}"#
        try write("[" + bad.joined(separator: ",\n") + "]")
        #expect(throws: GrantImportError.self) {
            try GrantImport.importFile(path, into: fixture.vault, app: "up", now: fixture.now)
        }
        #expect(try fixture.vault.names(of: .grant).isEmpty, "a bad file imported something")
        // The first failure in the file's order is the one reported, though the JSON breaks further on.
        var early = items
        early[100] = #"{"user": "u-bad", "access_token": "a b"}"#
        try write("[" + early.joined(separator: ",\n") + ",]")
        #expect {
            try GrantImport.importFile(path, into: fixture.vault, app: "up", now: fixture.now)
        } throws: { error in
            guard case GrantImportError.invalidItem(let index, _, _) = error else { return false }
            return index == 100
        }
        try write(" [" + items.joined(separator: " , ") + "]\n")
        #expect(try GrantImport.importFile(path, into: fixture.vault, app: "up", now: fixture.now) == 12_000)
        #expect(try fixture.vault.names(of: .grant).count == 12_000)
        #expect(try fixture.vault.entry(Grant.self, named: "up/u11999")?.refreshToken == "r11999")
        for malformed in [
            "[" + #"{"user": "x", "access_token": ""# + String(repeating: "a", count: 1 << 21) + #""}"# + "]",
            #"[{"user": "x", "access_token": "a"}] trailing"#, #"[{"user": "x", "access_token": "a"},]"#, "",
            #"[{"user": "x", "access_token": "a""#,
        ] {
            try write(malformed)
            #expect(throws: GrantImportError.malformed(path: path)) {
                try GrantImport.importFile(path, into: fixture.vault, app: "up", replace: true, now: fixture.now)
            }
        }
        try write(#"[{"user": "x", "access_token": "a", "expires_in": 1.5}]"#)
        #expect(throws: GrantImportError.self) {
            try GrantImport.importFile(path, into: fixture.vault, app: "up", now: fixture.now)
        }
        try write("[]")
        #expect(try GrantImport.importFile(path, into: fixture.vault, app: "up", now: fixture.now) == 0)
    }

    @Test func secretStateAndSelectionRules() throws {
        let fixture = try Fixture()
        let app = try fixture.seed(secrets: [
            App.ClientSecret(value: "new", addedAt: 10), App.ClientSecret(value: "old", addedAt: 5, validUntil: 100),
            App.ClientSecret(value: "older", addedAt: 1, validUntil: 50),
        ])
        #expect(app.clientSecrets.map { app.state(of: $0, at: 60) } == [.current, .previous, .expired])
        #expect(try GrantSelector().grant(in: fixture.vault) == ("up", "alice"))
        #expect(GrantSelector(environment: ["UPVAULT_APP": "x", "UPVAULT_USER": ""]).app == "x")
        #expect(GrantSelector(environment: ["UPVAULT_APP": "x", "UPVAULT_USER": ""]).user == nil)
        #expect(GrantSelector(app: "y", environment: ["UPVAULT_APP": "x"]).app == "y")
    }

    @Test func execEnvironmentWithholdsUpvaultsOwnSettings() async throws {
        let fixture = try Fixture()
        try fixture.seed()  // expiry unknown: used as it is, no provider needed
        try fixture.vault.setSecret(SecureBytes(copying: Array("s3cret".utf8)), named: "db")
        let environment = try await ExecEnvironment.build(
            for: fixture.vault, base: ["UPVAULT_PASSPHRASE_FILE": "/p", "UPVAULT_PATH": "/v", "HOME": "/h"],
            selection: GrantSelector(), mappings: [try ExecEnvironment.mapping("DB=secret/db")])
        #expect(environment["UPVAULT_PASSPHRASE_FILE"] == nil && environment["UPVAULT_PATH"] == nil)
        #expect(environment["HOME"] == "/h")
        #expect(environment["DB"] == "s3cret" && environment["UP_CLIENT_ID"] == "client-1")
        #expect(environment["UP_ACCESS_TOKEN"] == "old-access")
        #expect(throws: ReferenceError.malformedMapping("=secret/db")) { try ExecEnvironment.mapping("=secret/db") }
    }

    /// Import, rotate, bulk refresh and audit as an app would run the incident drill: no CLI, against
    /// the sandbox in this process.
    @Test func theIncidentDrillThroughTheLibrary() async throws {
        try await InProcessSandbox.run { sandbox in
            let fixture = try Fixture()
            let seeded = sandbox.provider.seed(count: 20)
            let now = UnixTime.now().seconds
            try fixture.vault.addApp(named: "up", replace: false) {
                try ProviderPreset.jawbone.app(
                    named: "up", clientID: "sandbox-client", clientSecret: sandbox.clientSecret,
                    redirectURI: "https://localhost/callback",
                    endpoints: try ProviderPreset.jawbone.endpoints(EndpointOverrides(providerURL: sandbox.url)),
                    now: now)
            }
            let items = seeded.map {
                GrantImport.Item(user: $0.user, accessToken: $0.accessToken, refreshToken: $0.refreshToken)
            }
            #expect(try GrantImport.importItems(items, into: fixture.vault, app: "up", now: now) == 20)
            let rotated = sandbox.provider.rotateSecret(grace: 3600)
            try await withOAuthClient(fixture.vault) { client in
                try client.rotateSecret(app: "up", newSecret: rotated.secret, previousValidUntil: now + 3600)
            }
            let report = try await OAuthClient.bulkRefresh(in: fixture.vault, BulkRefreshOptions(app: "up"))
            #expect(report.refreshed == 20 && report.failed.isEmpty && report.needsReauthorization.isEmpty)
            #expect(sandbox.provider.statistics.refreshesSucceeded == 20)
            let grants = try fixture.vault.entries(Grant.self)
            #expect(Set(grants.map(\.accessToken)).isDisjoint(with: seeded.map(\.accessToken)))
            let audit = try Audit.run(store: fixture.vault, incident: now - 10, expiringWithin: 0, now: now)
            #expect(audit.grants == 20)
            #expect(!audit.findings.contains { $0.kind == "refreshed_with_old_secret" }, "\(audit.findings)")
        }
    }
}
