import Foundation
import Testing
import UPVaultTesting

@testable import UPVault

/// A handle never goes backwards, and the anchor carries that across processes (FORMAT.md, "Anchor").
@Suite struct RollbackDetectionTests {
    struct Setup {
        let directory = TemporaryDirectory()
        var anchors: VaultAnchors { VaultAnchors(directory: directory.file("state/anchors")) }
        var path: String { directory.file("vault.upv") }

        func create() throws -> Vault {
            try Vault.create(at: path, passphrase: secure(testPassphrase), kdf: testKDF, anchors: anchors)
        }

        func open(_ anchors: VaultAnchors? = nil) throws -> Vault {
            try Vault.open(
                at: path, passphrase: secure(testPassphrase), limits: testLimits, anchors: anchors ?? self.anchors)
        }
    }

    static func wentBack(_ error: VaultError, viaAnchor: Bool) -> Bool {
        guard case .integrity(.wentBackInTime(_, _, _, _, let anchor)) = error else { return false }
        return (anchor != nil) == viaAnchor
    }

    @Test func continuityOfAChain() {
        let mark = ChainMark(generation: 2, count: 5, lastTag: Tag(low: 1, high: 2))
        let other = Tag(low: 9, high: 9)
        #expect(mark.continuity(of: mark, tagAtThisCount: mark.lastTag) == .same)
        #expect(
            mark.continuity(of: ChainMark(generation: 2, count: 6, lastTag: other), tagAtThisCount: mark.lastTag)
                == .ahead)
        #expect(
            mark.continuity(of: ChainMark(generation: 2, count: 6, lastTag: other), tagAtThisCount: other) == .diverged)
        #expect(
            mark.continuity(of: ChainMark(generation: 2, count: 5, lastTag: other), tagAtThisCount: other) == .diverged)
        #expect(mark.continuity(of: ChainMark(generation: 2, count: 4, lastTag: other), tagAtThisCount: nil) == .behind)
        #expect(
            mark.continuity(of: ChainMark(generation: 1, count: 90, lastTag: other), tagAtThisCount: nil) == .behind)
        #expect(mark.continuity(of: ChainMark(generation: 3, count: 0, lastTag: .zero), tagAtThisCount: nil) == .ahead)
    }

    @Test func aHandleRefusesAFileCutAtAnEarlierBatchAndWritesNothingOverIt() throws {
        let setup = Setup()
        let vault = try setup.create()
        try vault.setSecret(secure("one"), named: "a")
        let firstEnd = try vault.statistics().fileSize - UPV1.sealByteCount
        _ = try vault.removeSecret(named: "a")
        try vault.setSecret(secure("two"), named: "b")

        let file = try PosixFile.open(setup.path, flags: O_RDWR)
        try file.truncate(to: firstEnd)
        let cut = fileBytes(setup.path)
        #expect(throws: VaultError.self) { _ = try vault.secret(named: "a") }
        do {
            _ = try vault.secret(named: "a")
        } catch {
            #expect(Self.wentBack(error as! VaultError, viaAnchor: false), "\(error)")
        }
        #expect(throws: VaultError.self) { try vault.setSecret(secure("three"), named: "c") }
        #expect(fileBytes(setup.path) == cut, "a write went over a file that went back in time")
        // Another process with no memory of it: the anchor.
        do {
            _ = try setup.open()
            Issue.record("a vault older than its anchor opened")
        } catch {
            #expect(Self.wentBack(error as! VaultError, viaAnchor: true), "\(error)")
        }
    }

    @Test func aHandleRefusesAnOlderCopyPutInPlace() throws {
        let setup = Setup()
        let vault = try setup.create()
        try vault.setSecret(secure("old"), named: "a")
        let copy = fileBytes(setup.path)
        try vault.setSecret(secure("new"), named: "a")
        try vault.compact()
        writeBytes(copy, to: setup.path)
        #expect {
            _ = try vault.secret(named: "a")
        } throws: { error in
            Self.wentBack(error as! VaultError, viaAnchor: false)
        }
    }

    @Test func anotherHistoryWithMoreRecordsIsRefused() throws {
        let setup = Setup()
        let vault = try setup.create()
        try vault.setSecret(secure("one"), named: "a")
        let fork = fileBytes(setup.path)
        try vault.setSecret(secure("two"), named: "b")
        // The old copy, continued by a process that never saw "b" (and keeps no anchor).
        writeBytes(fork, to: setup.path)
        let other = try setup.open(.disabled)
        try other.setSecret(secure("x"), named: "c")
        try other.setSecret(secure("y"), named: "d")
        #expect {
            _ = try vault.secret(named: "a")
        } throws: { error in
            if case .integrity(.divergedHistory(_, _, nil)) = error as! VaultError { true } else { false }
        }
        #expect {
            _ = try setup.open()
        } throws: { error in
            if case .integrity(.divergedHistory(_, _, .some)) = error as! VaultError { true } else { false }
        }
    }

    @Test func theAnchorFollowsCommitsAndALaggingAnchorMovesForward() throws {
        let setup = Setup()
        let vault = try setup.create()
        try vault.setSecret(secure("one"), named: "a")
        let anchorPath = setup.anchors.directory! + "/" + (try Vault.inspect(at: setup.path).vaultID) + ".anchor"
        let afterOne = fileBytes(anchorPath)
        #expect(afterOne.count == AnchorRecord.byteCount)
        // A writer that does not update this anchor (killed before it could): the anchor lags, which is safe.
        let elsewhere = try setup.open(VaultAnchors(directory: setup.directory.file("elsewhere")))
        try elsewhere.setSecret(secure("two"), named: "b")
        #expect(fileBytes(anchorPath) == afterOne)
        _ = try setup.open()
        #expect(fileBytes(anchorPath) != afterOne, "opening a newer vault moves its anchor forward")
        let mode = try FileManager.default.attributesOfItem(atPath: anchorPath)[.posixPermissions] as! NSNumber
        #expect(mode.intValue == 0o600)
    }

    @Test func aForgedOrForeignAnchorIsRefusedUnlessAccepted() throws {
        let setup = Setup()
        let vault = try setup.create()
        try vault.setSecret(secure("one"), named: "a")
        let anchorPath = setup.anchors.directory! + "/" + (try Vault.inspect(at: setup.path).vaultID) + ".anchor"
        var forged = fileBytes(anchorPath)
        forged[32] = 0  // claims fewer records: would let a cut vault through if it were believed
        writeBytes(forged, to: anchorPath)
        #expect(throws: VaultError.integrity(.anchorUnverifiable(path: anchorPath))) { _ = try setup.open() }
        _ = try setup.open(setup.anchors.acceptingOlderVault())
        _ = try setup.open()

        // A copy from before a re-key: its key does not verify the anchor the re-keyed vault wrote.
        let beforeRekey = fileBytes(setup.path)
        _ = try vault.rekey(passphrase: secure(testPassphrase))
        writeBytes(beforeRekey, to: setup.path)
        #expect(throws: VaultError.integrity(.anchorUnverifiable(path: anchorPath))) { _ = try setup.open() }
    }

    @Test func repairSealsTheLastCompleteBatchAndMovesTheAnchor() throws {
        let setup = Setup()
        let vault = try setup.create()
        try vault.setSecret(secure("one"), named: "a")
        let size = try vault.statistics().fileSize
        let file = try PosixFile.open(setup.path, flags: O_RDWR)
        try file.truncate(to: size - 20)
        let reopened = try setup.open()
        #expect(try reopened.tail()?.kind == .unsealed)
        try reopened.setSecret(secure("two"), named: "b")  // a write replaces the tail with its own seal
        #expect(try reopened.tail() == nil)
        try file.truncate(to: try reopened.statistics().fileSize - 1)
        #expect(try reopened.tail()?.kind == .unsealed)
        try reopened.repair()
        #expect(try reopened.tail() == nil)
        #expect(try reopened.verify().tornTail == nil)
        #expect(try contents(of: try setup.open()) == ["a": "one", "b": "two"])
    }
}
