import Foundation
import Testing
import UPVaultTesting

/// The main job: from a kiefer config.json to tokens from the vault, and the plaintext file gone.
@Suite struct KieferMigrationTests {
    @Test func importShredThenTokenFromAScript() async throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        let config = cli.directory + "/config.json"
        let sandbox = try Sandbox(["--write-kiefer-config", config])
        let original =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as! [String: Any]
        let access = original["access_token"] as! String
        let refresh = original["refresh_token"] as! String
        let secret = original["client_secret"] as! String

        let imported = try cli.run(["import", "kiefer", config, "--provider-url", sandbox.url, "--shred"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(!FileManager.default.fileExists(atPath: config))
        #expect(imported.stderr.contains("overwritten and removed"))

        let token = try cli.run(["token"])
        #expect(token.stdout == access + "\n")
        let grants = try cli.run(["grants"])
        #expect(grants.stdout.contains("unknown"))
        let show = try cli.run(["app", "show", "up"])
        #expect(show.stdout.contains("current"))

        // Nothing secret on disk in clear, nor in any output but the token's own.
        let vaultBytes = try Data(contentsOf: URL(fileURLWithPath: cli.vaultPath))
        for needle in [access, refresh, secret] {
            #expect(vaultBytes.range(of: Data(needle.utf8)) == nil)
            #expect(
                !imported.stderr.contains(needle) && !grants.stdout.contains(needle) && !show.stdout.contains(needle))
        }
        // The same credentials come back out on explicit request.
        let exported = try cli.run(["export", "kiefer", "--reveal"])
        let roundTrip = try JSONSerialization.jsonObject(with: Data(exported.stdout.utf8)) as! [String: Any]
        #expect(roundTrip["client_secret"] as? String == secret)
        #expect(roundTrip["refresh_token"] as? String == refresh)
        await sandbox.stop()
    }

    @Test func worldReadableConfigIsImportedWithAWarning() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        let config = cli.writePrivate(
            "config.json",
            #"{"client_id": "abc", "client_secret": "s3cret-value", "redirect_uri": "https://example.com/up", "scope": "basic_read move_read"}"#,
            mode: 0o644)
        let imported = try cli.run(["import", "kiefer", config])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stderr.contains("readable by others"))
        #expect(!imported.stderr.contains("s3cret-value"))
        #expect(FileManager.default.fileExists(atPath: config))
        let show = try cli.run(["app", "show", "up", "--json"])
        #expect(show.stdout.contains("\"scopes\":[\"basic_read\",\"move_read\"]"))
        #expect(show.stdout.contains("https://jawbone.com/auth/oauth2/token"))
        #expect(!show.stdout.contains("s3cret-value"))
    }

    @Test func malformedConfigsAreRefusedWithoutEchoingThem() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        let cases = [
            ("not json at all: s3cret", "is not a kiefer config"),
            (#"{"client_secret": "s3cret", "redirect_uri": "https://x/y"}"#, "has no client_id"),
            (
                #"{"client_id": "a", "client_secret": "s3cret", "redirect_uri": "https://x/y", "access_token": "has space s3cret"}"#,
                "spaces or control"
            ),
            (String(repeating: " ", count: 70_000), "larger than 64 KiB"),
        ]
        for (index, (contents, message)) in cases.enumerated() {
            let path = cli.writePrivate("bad\(index).json", contents)
            let result = try cli.run(["import", "kiefer", path, "--shred"])
            #expect(result.status == 1, "\(contents.prefix(40))")
            #expect(result.stderr.contains(message), "\(result.stderr)")
            #expect(!result.stderr.contains("s3cret"))
            #expect(FileManager.default.fileExists(atPath: path), "a refused file must not be shredded")
        }
    }
}
