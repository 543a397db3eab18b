import Foundation
import Testing
import UPVault
import UPVaultTesting

/// A vault put back in time (cut at an earlier batch, or replaced by an older copy) is refused with
/// exit 65, through the agent and across processes (the anchor); a tail is reported with its kind and
/// removed only by `fsck --repair`.
@Suite struct RollbackTests {
    static func size(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as! NSNumber).intValue
    }

    static func cut(_ path: String, to length: Int) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(length))
        try handle.close()
    }

    @Test func aVaultCutAtAnEarlierBatchIsRefusedThroughTheAgentAndAfter() throws {
        let cli = try CLI.unlocked()  // api-key = value-1, then unlocked
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        let afterFirst = try Self.size(cli.vaultPath)
        #expect(try cli.run(["secret", "rm", "api-key"]).status == 0)
        #expect(try cli.run(["secret", "set", "other"], input: "value-2\n").status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: cli.vaultPath))

        // Cut where the first write's batch ends: the removed secret would come back.
        try Self.cut(cli.vaultPath, to: afterFirst - 49)  // 49: the seal's length (FORMAT.md)
        let get = try cli.run(["secret", "get", "api-key"])
        #expect(get.status == 65, "\(get)")
        #expect(get.stderr.contains("went back in time"), "\(get.stderr)")
        #expect(get.stdout.isEmpty)
        // The agent writes nothing over it: the next write fails the same way and leaves the file as is.
        let cut = try Data(contentsOf: URL(fileURLWithPath: cli.vaultPath))
        #expect(try cli.run(["secret", "set", "third"], input: "value-3\n").status == 65)
        #expect(try Data(contentsOf: URL(fileURLWithPath: cli.vaultPath)) == cut)

        // Across processes: the anchor remembers.
        #expect(try cli.run(["lock"]).status == 0)
        var locked = cli
        locked.usePassphrase("first passphrase")
        let reopened = try locked.run(["secret", "get", "api-key"])
        #expect(reopened.status == 65, "\(reopened)")
        #expect(reopened.stderr.contains("anchor") && reopened.stderr.contains("--accept-restore"))
        let fsck = try locked.run(["fsck"])
        #expect(fsck.status == 65)

        // Putting the newer file back makes it whole again.
        try before.write(to: URL(fileURLWithPath: cli.vaultPath))
        #expect(try locked.run(["secret", "get", "other"]).stdout == "value-2\n")
        #expect(try locked.run(["fsck"]).status == 0)
    }

    @Test func anOlderCopyIsRefusedUntilAcceptedDeliberately() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        #expect(try cli.run(["secret", "set", "a"], input: "old\n").status == 0)
        let backup = try Data(contentsOf: URL(fileURLWithPath: cli.vaultPath))
        #expect(try cli.run(["secret", "set", "a"], input: "new\n").status == 0)
        #expect(try cli.run(["compact"]).status == 0)  // a newer generation
        try backup.write(to: URL(fileURLWithPath: cli.vaultPath))

        let refused = try cli.run(["secret", "get", "a"])
        #expect(refused.status == 65)
        #expect(refused.stderr.contains("generation 1") && refused.stderr.contains("generation 2"))
        let accepted = try cli.run(["fsck", "--accept-restore"])
        #expect(accepted.status == 0, "\(accepted)")
        #expect(try cli.run(["secret", "get", "a"]).stdout == "old\n")
    }

    @Test func fsckReportsATailWithItsKindAndOnlyRepairRemovesIt() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        #expect(try cli.run(["secret", "set", "a"], input: "one\n").status == 0)
        // An unsealed end: the seal is cut (how a write interrupted in its seal, or a cut, looks).
        try Self.cut(cli.vaultPath, to: try Self.size(cli.vaultPath) - 10)
        let damaged = try cli.run(["fsck", "--json"])
        #expect(damaged.status == 65)
        #expect(damaged.stdout.contains("\"tail\":\"unsealed\""), "\(damaged.stdout)")
        let read = try cli.run(["secret", "get", "a"])
        #expect(read.stdout == "one\n")
        #expect(read.stderr.hasPrefix("upvault: warning: the vault does not end in a seal"))
        let sizeBefore = try Self.size(cli.vaultPath)
        #expect(try cli.run(["secret", "list"]).status == 0)
        #expect(try Self.size(cli.vaultPath) == sizeBefore, "a read removed the tail")
        #expect(try cli.run(["fsck", "--repair"]).status == 0)
        #expect(try cli.run(["fsck"]).stdout.contains("status:     ok"))

        // An interrupted write: the start of a batch that never finished (written with the anchor
        // elsewhere, as if the writer had been killed before it could move the anchor).
        let sealed = try Self.size(cli.vaultPath)
        var elsewhere = cli
        elsewhere.environment["XDG_STATE_HOME"] = cli.directory + "/other-state"
        #expect(try elsewhere.run(["secret", "set", "b"], input: "two\n").status == 0)
        try Self.cut(cli.vaultPath, to: sealed + 60)
        let interrupted = try cli.run(["fsck"])
        #expect(interrupted.status == 65)
        #expect(interrupted.stdout.contains("interrupted write of 109 bytes"), "\(interrupted.stdout)")
        // A write replaces the unfinished batch with its own.
        #expect(try cli.run(["secret", "set", "c"], input: "three\n").status == 0)
        let clean = try cli.run(["fsck"])
        #expect(clean.status == 0, "\(clean)")
        #expect(try cli.run(["secret", "list"]).stdout == "a\nc\n")
    }
}
