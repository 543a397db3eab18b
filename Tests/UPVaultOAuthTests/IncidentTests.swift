import Foundation
import Testing
import UPVault
import UPVaultTesting

@testable import UPVaultOAuth

@Suite struct ReferenceTests {
    @Test func referencesParse() throws {
        #expect(try SecretReference(parsing: "app/up/client_id") == .clientID(app: "up"))
        #expect(try SecretReference(parsing: "grant/up/alice/access_token") == .accessToken(app: "up", user: "alice"))
        #expect(try SecretReference(parsing: "secret/db") == .secret(name: "db"))
        for bad in [
            "", "app/up", "app//client_id", "grant/up/access_token", "secret/", "file/etc/passwd",
            "app/up/client_secret/x",
        ] {
            #expect(throws: ReferenceError.self, "\(bad)") { try SecretReference(parsing: bad) }
        }
    }

    @Test func templatesReplaceOnlyTheirOwnPlaceholders() async throws {
        let template = "a={{ upvault:secret/x }} b={{upvault:app/up/client_id}} c={{ jinja }} d={{ upvault:secret/x }}"
        var asked: [String] = []
        let out = try await SecretTemplate.render(template) { reference in
            asked.append(reference.description)
            return "<\(reference.description)>"
        }
        #expect(out == "a=<secret/x> b=<app/up/client_id> c={{ jinja }} d=<secret/x>")
        #expect(asked == ["secret/x", "app/up/client_id"], "each reference is resolved once")
        #expect(throws: ReferenceError.unterminated(line: 2)) {
            try SecretTemplate.references(in: "x\n{{ upvault:secret/x")
        }
        #expect(throws: ReferenceError.malformed("nope")) { try SecretTemplate.references(in: "{{ upvault:nope }}") }
    }
}

@Suite struct RotationTests {
    @Test func rotationKeepsThePreviousSecretForItsWindowThenErasesIt() throws {
        let fixture = try Fixture()
        try fixture.seed(grant: nil)
        let client = fixture.client(StubTransport { _ throws(OAuthError) in json(500, "") })
        let rotated = try client.rotateSecret(
            app: "up", newSecret: "secret-2", previousValidUntil: fixture.now + 86_400)
        #expect(rotated.currentSecret?.value == "secret-2")
        #expect(rotated.usableSecrets(at: fixture.now).map(\.value) == ["secret-2", "secret-1"])
        #expect(rotated.usableSecrets(at: fixture.now + 86_401).map(\.value) == ["secret-2"])
        // Inside the window nothing is erased, so nothing is rewritten: the app's old record stays dead.
        #expect(try fixture.vault.statistics().deadRecordCount == 1)
        // A rotation whose window is already over drops the secret it replaces (secret-1 keeps its own
        // window) and compacts it out of the file.
        let again = try client.rotateSecret(app: "up", newSecret: "secret-3", previousValidUntil: fixture.now)
        #expect(again.clientSecrets.map(\.value) == ["secret-3", "secret-1"])
        #expect(try fixture.vault.entry(App.self, named: "up") == again)
        // No superseded record (the app as it was, with secret-2) survives in the file.
        #expect(try fixture.vault.statistics().deadRecordCount == 0)
        #expect(throws: OAuthError.self) {
            try client.rotateSecret(app: "up", newSecret: "secret-3", previousValidUntil: fixture.now)
        }
        #expect(throws: OAuthError.self) {
            try client.rotateSecret(app: "up", newSecret: "has space", previousValidUntil: fixture.now)
        }
    }
}

@Suite struct BulkSelectionTests {
    func grant(_ user: String, issued: Int64, refreshed: Int64? = nil, expires: Int64?) -> Grant {
        Grant(
            app: "up", user: user, accessToken: "a", refreshToken: "r", issuedAt: issued, expiresAt: expires,
            lastRefreshAt: refreshed)
    }

    @Test func filters() {
        let now: Int64 = 1_000_000
        let old = grant("old", issued: 100, expires: now + 10)
        let fresh = grant("fresh", issued: now - 10, refreshed: now - 5, expires: now + 100_000)
        let unknown = grant("unknown", issued: 100, expires: nil)
        #expect(BulkRefreshOptions().selects(old, now: now))
        #expect(BulkRefreshOptions(app: "other").selects(old, now: now) == false)
        #expect(BulkRefreshOptions(users: ["fresh"]).selects(old, now: now) == false)
        #expect(BulkRefreshOptions(issuedBefore: 200).selects(old, now: now))
        #expect(BulkRefreshOptions(issuedBefore: 200).selects(fresh, now: now) == false)
        #expect(BulkRefreshOptions(expiringWithin: 60).selects(old, now: now))
        #expect(BulkRefreshOptions(expiringWithin: 60).selects(fresh, now: now) == false)
        #expect(BulkRefreshOptions(expiringWithin: 60).selects(unknown, now: now), "an unknown expiry is refreshed")
        #expect(BulkRefreshOptions(refreshedBefore: now - 6).selects(fresh, now: now) == false)
        #expect(BulkRefreshOptions(refreshedBefore: now - 4).selects(fresh, now: now))
        #expect(BulkRefreshOptions(concurrency: 0).concurrency == 1)
    }

    @Test func auditFindings() throws {
        let fixture = try Fixture()
        let app = try fixture.seed(grant: nil)
        let current = app.currentSecretFingerprint
        try fixture.vault.put(
            Grant(
                app: "up", user: "a", accessToken: "x", refreshToken: "r", issuedAt: 10,
                expiresAt: fixture.now + 999_999, secretFingerprint: current))
        try fixture.vault.put(
            Grant(
                app: "up", user: "b", accessToken: "x", refreshToken: "r", issuedAt: fixture.now,
                expiresAt: fixture.now + 999_999, secretFingerprint: "0000"))
        try fixture.vault.put(
            Grant(
                app: "up", user: "c", accessToken: "x", refreshToken: "r", issuedAt: fixture.now,
                expiresAt: fixture.now + 60, secretFingerprint: current))
        try fixture.vault.put(
            Grant(
                app: "up", user: "d", accessToken: "x", refreshToken: "r", issuedAt: fixture.now, expiresAt: nil,
                status: .needsReauthorization))
        let report = try Audit.run(
            store: fixture.vault, incident: fixture.now - 50, expiringWithin: 3600, now: fixture.now)
        let kinds = Set(report.findings.map { "\($0.kind) \($0.subject)" })
        #expect(
            kinds == [
                "secret_predates_incident up", "issued_before_incident up/a", "refreshed_with_old_secret up/b",
                "expiring_soon up/c", "needs_reauthorization up/d",
            ])
        let clean = try Audit.run(store: fixture.vault, incident: nil, expiringWithin: 0, now: fixture.now)
        #expect(clean.findings.map(\.kind).sorted() == ["needs_reauthorization", "refreshed_with_old_secret"])
    }
}

/// The bulk run's journal, built by hand for every batch, is byte for byte what `JSONEncoder` writes, and
/// reads back as the same journal.
@Suite struct JournalEncodingTests {
    @Test(arguments: [
        [String](), ["up/alice"], ["up/a\"b", "up/back\\slash", "up/tab\t\u{01}", "up/grüße 🔑", "x/"],
        (0..<300).map { "app-\($0 % 3)/user\($0)" },
    ])
    func theJournalIsWhatJSONEncoderWrites(_ names: [String]) throws {
        for options in [
            BulkRefreshOptions(),
            BulkRefreshOptions(
                app: "up", users: ["a/b", "c"], issuedBefore: -5, expiringWithin: 60, refreshedBefore: 7,
                concurrency: 64, maximumAttempts: 3, batchSize: 100, rate: 2.5),
        ] {
            let journal = RefreshRun(id: "run/1\"", startedAt: 1_700_000_000, options: options, inFlight: names)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let expected = Array(try encoder.encode(journal))
            let built = journal.encodedJSON(optionsJSON: try RefreshRun.optionsJSON(options))
            #expect(built == expected)
            #expect(try JSONDecoder().decode(RefreshRun.self, from: Data(built)) == journal)
        }
    }
}
