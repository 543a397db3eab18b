import Foundation
import Testing
import UPVault
import UPVaultTesting

@testable import UPVaultOAuth

@Suite struct KieferTests {
    @Test func scopeAsListOrString() throws {
        let list = try KieferConfig.parse(
            Array(
                #"{"client_id":"a","client_secret":"b","redirect_uri":"https://x/y","scope":["move_read","sleep_read"]}"#
                    .utf8))
        let text = try KieferConfig.parse(
            Array(
                #"{"client_id":"a","client_secret":"b","redirect_uri":"https://x/y","scope":"move_read sleep_read"}"#
                    .utf8))
        #expect(list.scope == ["move_read", "sleep_read"] && text.scope == list.scope)
        #expect(list.accessToken == nil)
    }

    @Test func importExportRoundTripAndShred() throws {
        let fixture = try Fixture()
        let path = fixture.directory + "/config.json"
        let original = KieferConfig(
            clientID: "cid", clientSecret: "csecret", redirectURI: "https://example.com/up", scope: ["basic_read"],
            accessToken: "acc", refreshToken: "ref")
        FileManager.default.createFile(
            atPath: path, contents: Data(original.encoded()), attributes: [.posixPermissions: 0o600])
        let (read, mode) = try KieferConfig.read(path: path)
        #expect(read == original && mode == 0o600)
        let result = try KieferMigration.importConfig(
            read, into: fixture.vault, app: "up", user: "me", now: fixture.now)
        #expect(result.grant?.expiresAt == nil)
        #expect(result.app.endpoints == ProviderPreset.jawbone.endpoints)
        #expect(throws: KieferError.grantExists("up/me")) {
            try KieferMigration.importConfig(read, into: fixture.vault, app: "up", user: "me", now: fixture.now)
        }
        let conflicting = KieferConfig(
            clientID: "other", clientSecret: "s", redirectURI: "https://example.com/up", scope: [])
        #expect(throws: KieferError.appConflict("up")) {
            try KieferMigration.importConfig(conflicting, into: fixture.vault, app: "up", user: "you", now: fixture.now)
        }
        try KieferMigration.shred(path: path)
        #expect(!FileManager.default.fileExists(atPath: path))
        let app = try #require(try fixture.vault.entry(App.self, named: "up"))
        let grant = try fixture.vault.entry(Grant.self, named: "up/me")
        #expect(KieferMigration.exportConfig(app: app, grant: grant) == original)
    }

    @Test func symlinksAreNeitherReadNorShredded() throws {
        let fixture = try Fixture()
        let target = fixture.directory + "/real.json"
        let link = fixture.directory + "/link.json"
        FileManager.default.createFile(atPath: target, contents: Data("{}".utf8))
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        #expect(throws: KieferError.self) { try KieferConfig.read(path: link) }
        #expect(throws: KieferError.self) { try KieferMigration.shred(path: link) }
        #expect(FileManager.default.fileExists(atPath: target))
    }
}
