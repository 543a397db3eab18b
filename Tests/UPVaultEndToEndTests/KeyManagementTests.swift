import Foundation
import Testing
import UPVaultTesting

/// passwd, rekey, recovery keys, status, fsck and compact through the binary.
@Suite struct KeyManagementTests {
    @Test func passwdThroughOneDescriptorCarryingBothPassphrases() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        try cli.run(["secret", "set", "x"], input: "kept")
        cli.environment["UPVAULT_PASSPHRASE_FILE"] = nil
        let changed = try cli.run(
            ["passwd", "--passphrase-fd", "0", "--new-passphrase-fd", "0"],
            input: "first passphrase\nsecond passphrase\n")
        #expect(changed.status == 0, "\(changed.stderr)")
        #expect(try cli.run(["secret", "get", "x", "--passphrase-fd", "0"], input: "first passphrase\n").status == 77)
        #expect(
            try cli.run(["secret", "get", "x", "--passphrase-fd", "0"], input: "second passphrase\n").stdout == "kept\n"
        )
    }

    @Test func recoveryKeyFromInitResetsTheForgottenPassphrase() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        cli.usePassphrase("forgotten")
        let created = try cli.run(["init", "--kdf", "1:8", "--recovery-key", "--json"])
        #expect(created.status == 0)
        let report = try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as! [String: Any]
        let recoveryKey = report["recovery_key"] as! String
        #expect(recoveryKey.count == 71)
        try cli.run(["secret", "set", "x"], input: "still here")
        cli.environment["UPVAULT_PASSPHRASE_FILE"] = cli.writePrivate("recovery", recoveryKey + "\n")
        cli.environment["UPVAULT_NEW_PASSPHRASE_FILE"] = cli.writePrivate("new", "remembered\n")
        #expect(try cli.run(["passwd", "--recovery-key"]).status == 0)
        cli.usePassphrase("remembered")
        #expect(try cli.run(["secret", "get", "x"]).stdout == "still here\n")
    }

    @Test func rekeyKeepsEntriesAndIssuesANewRecoveryKey() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault(extra: ["--recovery-key"])
        try cli.run(["secret", "set", "x"], input: "value")
        let before = try cli.run(["status", "--json"]).stdout
        let rekeyed = try cli.run(["rekey", "--recovery-key"])
        #expect(rekeyed.status == 0)
        #expect(rekeyed.stdout.contains("New recovery key"))
        #expect(try cli.run(["secret", "get", "x"]).stdout == "value\n")
        let after = try cli.run(["status", "--json"]).stdout
        #expect(before != after)
        #expect(after.contains("\"recovery_key\":true"))
    }

    @Test func statusNeedsNoPassphrase() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        cli.environment["UPVAULT_PASSPHRASE_FILE"] = nil
        let status = try cli.run(["status", "--json"])
        #expect(status.status == 0)
        let report = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as! [String: Any]
        #expect(report["format"] as? String == "UPV1")
        #expect(report["kdf"] as? String == "argon2id ops=1 mem=8 MiB")
        #expect(report["state"] as? String == "locked")
    }

    @Test func compactShrinksTheFile() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        for i in 0..<10 { try cli.run(["secret", "set", "a"], input: "value \(i)") }
        let result = try cli.run(["compact", "--json"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("\"dead_records\":0"))
        #expect(try cli.run(["secret", "get", "a"]).stdout == "value 9\n")
    }
}
