import Foundation
import Testing
import UPVaultTesting

/// Every documented exit code, with its one line on stderr.
@Suite struct ExitCodeTests {
    @Test func lockedWithNoWayToAskExits75AtOnce() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        cli.environment["UPVAULT_PASSPHRASE_FILE"] = nil
        let result = try cli.run(["secret", "list"])
        #expect(result.status == 75)
        #expect(result.stderr.hasPrefix("upvault: vault is locked and there is no way to ask for the passphrase"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func wrongPassphraseExits77() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        cli.usePassphrase("not it")
        let result = try cli.run(["secret", "list"])
        #expect(result.status == 77)
        #expect(result.stderr == "upvault: wrong passphrase (or the vault's key slots are damaged)\n")
    }

    @Test func damagedVaultExits65() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        try cli.run(["secret", "set", "a"], input: "value")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: cli.vaultPath))
        bytes[bytes.count - 60] ^= 0x10
        try bytes.write(to: URL(fileURLWithPath: cli.vaultPath))
        let result = try cli.run(["secret", "get", "a"])
        #expect(result.status == 65)
        #expect(result.stderr.hasPrefix("upvault: vault integrity check failed: record 0 at offset"))
        #expect(try cli.run(["fsck"]).status == 65)
    }

    @Test func usageErrorsExit64() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        #expect(try cli.run(["--no-such-option"]).status == 64)
        #expect(try cli.run(["secret", "get"]).status == 64)
        #expect(try cli.run(["init", "--kdf", "99:1"]).status == 64)
    }

    @Test func missingVaultAndRefusedOverwrite() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        cli.usePassphrase("p")
        let missing = try cli.run(["secret", "list"])
        #expect(missing.status == 1)
        #expect(missing.stderr == "upvault: no vault at \(cli.vaultPath) (create one with 'upvault init')\n")
        try cli.initVault()
        let again = try cli.run(["init", "--kdf", "1:8"])
        #expect(again.status == 1)
        #expect(again.stderr == "upvault: \(cli.vaultPath) already exists; refusing to overwrite it\n")
    }

    @Test func emptyAndWorldReadablePassphrasesAreRefused() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        cli.usePassphrase("")
        let empty = try cli.run(["init", "--kdf", "1:8"])
        #expect(empty.status == 64)
        #expect(empty.stderr == "upvault: the passphrase is empty\n")
        try cli.initVault()
        cli.environment["UPVAULT_PASSPHRASE_FILE"] = cli.writePrivate("open", "first passphrase\n", mode: 0o644)
        let open = try cli.run(["secret", "list"])
        #expect(open.status == 1)
        #expect(open.stderr.contains("must belong to you and be readable by you alone"))
    }

    @Test func insecureVaultPermissionsAreRefused() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        chmod(cli.vaultPath, 0o666)
        let file = try cli.run(["secret", "list"])
        #expect(file.status == 1)
        #expect(file.stderr.contains("it is writable by others"))
        chmod(cli.vaultPath, 0o600)
        chmod(cli.directory + "/vault", 0o770)
        let directory = try cli.run(["secret", "list"])
        #expect(directory.status == 1)
        #expect(directory.stderr.contains("it is writable by its group"))
    }
}
