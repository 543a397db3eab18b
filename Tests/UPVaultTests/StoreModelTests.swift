import Testing
import UPVaultTesting

@testable import UPVault

/// The file store's own rules: compaction, generations, handles across rewrites, key slots. (The random
/// operation sequences run on every store, in UPVaultStoreTests.)
@Suite struct StoreModelTests {
    @Test func compactionDropsDeadRecordsAndBumpsTheGeneration() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        for i in 0..<10 { try vault.setSecret(secure("v\(i)"), named: "a") }
        let before = try vault.statistics()
        #expect(before.deadRecordCount == 9)
        try vault.compact()
        let after = try vault.statistics()
        #expect(after.recordCount == 1 && after.deadRecordCount == 0)
        #expect(after.generation == before.generation + 1)
        #expect(after.fileSize < before.fileSize)
        #expect(text(try reopen(vault.path).secret(named: "a")) == "v9")
    }

    @Test func automaticCompactionKeepsDeadRecordsBounded() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        for i in 0..<200 { try vault.setSecret(secure("v\(i)"), named: "k\(i % 3)") }
        let statistics = try vault.statistics()
        #expect(statistics.deadRecordCount <= max(Vault.compactionMinimumDead, statistics.entryCounts[.secret]!))
        #expect(try contents(of: reopen(vault.path)) == ["k0": "v198", "k1": "v199", "k2": "v197"])
    }

    /// A conditional write over the grant it read survives another process's compaction (new versions,
    /// same entries) and still fails when the grant itself changed, compaction or not.
    @Test(arguments: [false, true])
    func aConditionalWriteHoldingWhatItReadOutlivesACompaction(changed: Bool) throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        let other = try reopen(vault.path)
        let read = Grant(app: "up", user: "a", accessToken: "old", refreshToken: "r", issuedAt: 1, expiresAt: nil)
        try vault.put(read)
        let version = try #require(try vault.versionedEntry(Grant.self, named: "up/a")).version
        if changed {
            var elsewhere = read
            elsewhere.scope = "changed elsewhere"
            try other.put(elsewhere)
        }
        try other.compact()
        var written = read
        written.accessToken = "new"
        #expect(throws: VaultError.conflict(EntryKey(.grant, "up/a"))) {
            try vault.putReturningVersion(written, ifVersion: version)
        }
        if changed {
            #expect(throws: VaultError.conflict(EntryKey(.grant, "up/a"))) {
                try vault.putReturningVersion(written, ifVersion: version, holding: read)
            }
            #expect(try reopen(vault.path).entry(Grant.self, named: "up/a")?.scope == "changed elsewhere")
        } else {
            let now = try vault.putReturningVersion(written, ifVersion: version, holding: read)
            #expect(try reopen(vault.path).versionedEntry(Grant.self, named: "up/a")?.entry.accessToken == "new")
            #expect(try vault.versionedEntry(Grant.self, named: "up/a")?.version == now)
        }
    }

    /// A bulk run defers compaction (it compares versions across its commits); another process's
    /// rewrite, which this handle reloads, must not end the deferral half way, nor leave it unbalanced.
    @Test func aDeferralOutlivesAnotherProcesssRewrite() async throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        let other = try reopen(vault.path)
        try vault.setSecret(secure("v"), named: "a")
        try await vault.deferringCompaction {
            try other.compact()  // this handle reloads the new file at its next call
            for i in 0..<40 { try vault.setSecret(secure("v\(i)"), named: "a") }
            let during = try vault.statistics()
            #expect(during.deadRecordCount == 40, "compacted during the deferral")
        }
        #expect(try vault.statistics().deadRecordCount == 0, "the deferral did not end")
        for i in 0..<40 { try vault.setSecret(secure("w\(i)"), named: "a") }
        #expect(try vault.statistics().deadRecordCount <= Vault.compactionMinimumDead, "compaction stayed off")
    }

    @Test func twoHandlesSeeEachOthersWritesAndRewrites() throws {
        let directory = TemporaryDirectory()
        let first = try makeVault(in: directory)
        let second = try reopen(first.path)
        try first.setSecret(secure("one"), named: "a")
        #expect(text(try second.secret(named: "a")) == "one")
        try second.setSecret(secure("two"), named: "b")
        try first.compact()
        #expect(try contents(of: second) == ["a": "one", "b": "two"])
        try second.setSecret(secure("three"), named: "c")
        #expect(try contents(of: first) == ["a": "one", "b": "two", "c": "three"])
        try first.changePassphrase(to: secure("new passphrase"))
        #expect(text(try second.secret(named: "c")) == "three", "a passphrase change keeps the master key")
        _ = try first.rekey(passphrase: secure("new passphrase"))
        #expect(throws: VaultError.rekeyedElsewhere) { try second.secret(named: "a") }
    }

    @Test func passphraseChangeAndRecoveryKey() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        try vault.setSecret(secure("value"), named: "x")
        let recovery = try vault.addRecoveryKey()
        try vault.changePassphrase(to: secure("second passphrase"))
        #expect(throws: VaultError.wrongPassphraseOrDamagedHeader) { try reopen(vault.path) }
        let reopened = try Vault.open(at: vault.path, passphrase: secure("second passphrase"), limits: testLimits)
        #expect(text(try reopened.secret(named: "x")) == "value")
        let viaRecovery = try Vault.open(at: vault.path, recoveryKey: recovery)
        #expect(text(try viaRecovery.secret(named: "x")) == "value")
        #expect(throws: VaultError.wrongPassphraseOrDamagedHeader) {
            try Vault.open(at: vault.path, recoveryKey: SecureBytes.random(count: 32))
        }
        // Round trip of the printed form.
        let printed = RecoveryKeyText.format(recovery)
        let parsedMatches = try RecoveryKeyText.parse(secure(printed.uppercased())).isEqual(to: recovery)
        #expect(parsedMatches)
        #expect(throws: PassphraseError.malformedRecoveryKey) { try RecoveryKeyText.parse(secure("abc")) }
    }

    @Test func rekeyInvalidatesTheOldRecoveryKeyAndKeepsEntries() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        try vault.setSecret(secure("value"), named: "x")
        let oldRecovery = try vault.addRecoveryKey()
        let newRecovery = try vault.rekey(passphrase: secure(testPassphrase), withRecoveryKey: true)
        #expect(throws: VaultError.wrongPassphraseOrDamagedHeader) {
            try Vault.open(at: vault.path, recoveryKey: oldRecovery)
        }
        let reopened = try Vault.open(at: vault.path, recoveryKey: newRecovery!)
        #expect(text(try reopened.secret(named: "x")) == "value")
    }

    @Test func createRefusesToOverwriteAndOpenReportsMissingVaults() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        #expect(throws: VaultError.vaultExists(path: vault.path)) { try makeVault(in: directory) }
        let missing = directory.file("missing.upv")
        #expect(throws: VaultError.vaultNotFound(path: missing)) { try reopen(missing) }
        #expect(throws: VaultError.emptyPassphrase) {
            try Vault.create(at: directory.file("other.upv"), passphrase: secure(""), kdf: testKDF)
        }
    }

    @Test func namesAndSizesAreChecked() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        for bad in ["", ".hidden", "-flag", "a/b", "sp ace", String(repeating: "x", count: 129), "ünï"] {
            #expect(throws: VaultError.self) { try vault.setSecret(secure("v"), named: bad) }
        }
        try vault.setSecret(secure("v"), named: "user@example.com:prod_key-1.2+x")
        #expect(throws: VaultError.valueTooLarge(byteCount: (1 << 20) + 1)) {
            try vault.setSecret(SecureBytes(count: (1 << 20) + 1), named: "big")
        }
        try vault.setSecret(SecureBytes(count: 1 << 20), named: "big")
        let big = try reopen(vault.path).secret(named: "big")
        var bigCount = -1
        if let big { bigCount = big.count }
        #expect(bigCount == 1 << 20)
    }
}
