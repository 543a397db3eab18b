import Foundation
import Testing
import UPVaultTesting

@testable import UPVault

/// One set of semantics, run on every store (the file vault and the PostgreSQL vault): what an app or
/// the OAuth flows may rely on whichever store holds the vault.
@Suite struct StoreConformanceTests {
    @Test func theTestClusterRunsInCI() {
        // CI (and scripts/test.sh) always start the cluster: a missing one there is a failure, not a skip.
        if ProcessInfo.processInfo.environment["CI"] != nil {
            #expect(TestCluster.isAvailable, "\(TestCluster.unavailable)")
        }
    }

    @Test(arguments: allStores)
    func putGetRemoveAndNames(_ kind: StoreKind) throws {
        let fixture = try StoreFixture(kind)
        let store = fixture.store
        #expect(try store.secret(named: "a") == nil)
        try store.setSecret(secure("one"), named: "a")
        try store.setSecret(secure("two"), named: "b")
        try store.setSecret(secure("three"), named: "B")
        try store.put(EntryKey(.app, "a"), value: secure("an app"))
        #expect(text(try store.secret(named: "a")) == "one")
        #expect(try store.names(of: .secret) == ["B", "a", "b"], "sorted by UTF-8 bytes")
        #expect(try store.names(of: .app) == ["a"])
        #expect(try store.contains(EntryKey(.secret, "b")))
        #expect(try !store.contains(EntryKey(.grant, "a/b")))
        try store.setSecret(secure("one again"), named: "a")
        #expect(text(try store.secret(named: "a")) == "one again")
        #expect(try store.removeSecret(named: "a"))
        #expect(try !store.removeSecret(named: "a"))
        #expect(try store.secret(named: "a") == nil)
        #expect(text(try store.value(for: EntryKey(.app, "a"))) == "an app", "kinds are separate name spaces")
        let other = try fixture.open()
        #expect(try contents(of: other) == ["B": "three", "b": "two"])
    }

    @Test(arguments: allStores)
    func aBatchIsAllOrNothing(_ kind: StoreKind) throws {
        let fixture = try StoreFixture(kind)
        let store = fixture.store
        try store.setSecret(secure("kept"), named: "x")
        let version = try read(store, EntryKey(.secret, "x")).version
        try store.setSecret(secure("changed"), named: "x")
        #expect(throws: VaultError.conflict(EntryKey(.secret, "x"))) {
            try store.write { transaction in
                try transaction.put(EntryKey(.secret, "new"), value: secure("n"))
                transaction.remove(EntryKey(.secret, "x"))
                try transaction.put(EntryKey(.secret, "x"), value: secure("late"), ifVersion: version)
            }
        }
        #expect(try contents(of: store) == ["x": "changed"], "nothing of the failed batch was written")
        #expect(throws: (any Error).self) {
            try store.write { transaction in
                try transaction.put(EntryKey(.secret, "y"), value: secure("y"))
                struct Abandoned: Error {}
                throw Abandoned()
            }
        }
        #expect(try contents(of: store) == ["x": "changed"])
    }

    @Test(arguments: allStores)
    func conditionalWritesCompareAndSet(_ kind: StoreKind) throws {
        let fixture = try StoreFixture(kind)
        let store = fixture.store
        let key = EntryKey(.secret, "counter")
        try store.write { try $0.put(key, value: secure("0"), ifVersion: nil) }
        #expect(throws: VaultError.conflict(key), "absent was required") {
            try store.write { try $0.put(key, value: secure("again"), ifVersion: nil) }
        }
        let first = try read(store, key)
        #expect(first.text == "0")
        try store.write { try $0.put(key, value: secure("1"), ifVersion: first.version) }
        let second = try read(store, key)
        #expect(second.version != first.version, "every write gives a new version")
        #expect(throws: VaultError.conflict(key), "a writer that read version 1 cannot overwrite version 2") {
            try store.write { try $0.put(key, value: secure("stale"), ifVersion: first.version) }
        }
        #expect(try read(store, key).version == second.version, "reading does not change it")
        // Another handle's write moves the version for this handle too.
        let other = try fixture.open()
        try other.setSecret(secure("2"), named: "counter")
        #expect(throws: VaultError.conflict(key)) {
            try store.write { $0.remove(key, ifVersion: second.version) }
        }
        let third = try read(store, key)
        #expect(third.text == "2")
        try store.write { $0.remove(key, ifVersion: third.version) }
        #expect(try store.value(for: key) == nil)
        try store.write { try $0.put(key, value: secure("back"), ifVersion: nil) }
        #expect(text(try other.value(for: key)) == "back")
    }

    @Test(arguments: allStores)
    func concurrentCompareAndSetLosesNoIncrement(_ kind: StoreKind) async throws {
        let fixture = try StoreFixture(kind)
        let key = EntryKey(.secret, "counter")
        try fixture.store.setSecret(secure("0"), named: "counter")
        let handles = [fixture.store, try fixture.open(), try fixture.open()]
        let perHandle = 15
        let conflicts = try await withThrowingTaskGroup(of: Int.self) { group in
            for handle in handles {
                group.addTask {
                    var conflicts = 0
                    var done = 0
                    while done < perHandle {
                        let current = try read(handle, key)
                        let next = Int(current.text)! + 1
                        do {
                            try handle.write { try $0.put(key, value: secure("\(next)"), ifVersion: current.version) }
                            done += 1
                        } catch VaultError.conflict {
                            conflicts += 1
                        }
                    }
                    return conflicts
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(
            text(try fixture.store.value(for: key)) == "\(handles.count * perHandle)", "\(conflicts) conflicts retried")
    }

    @Test(arguments: allStores)
    func keyManagement(_ kind: StoreKind) throws {
        let fixture = try StoreFixture(kind)
        let store = fixture.store
        try store.setSecret(secure("value"), named: "x")
        let recovery = try store.addRecoveryKey()
        try store.changePassphrase(to: secure("second passphrase"), kdf: testKDF)
        #expect(throws: VaultError.wrongPassphraseOrDamagedHeader) { try fixture.open() }
        #expect(text(try fixture.open(passphrase: "second passphrase").secret(named: "x")) == "value")
        #expect(text(try fixture.open(recoveryKey: recovery).secret(named: "x")) == "value")
        #expect(throws: VaultError.wrongPassphraseOrDamagedHeader) {
            try fixture.open(recoveryKey: SecureBytes.random(count: 32))
        }
        let bystander = try fixture.open(passphrase: "second passphrase")
        guard
            let newRecovery = try store.rekey(
                passphrase: secure("third passphrase"), kdf: testKDF, withRecoveryKey: true)
        else {
            Issue.record("rekey made no recovery key")
            return
        }
        #expect(throws: VaultError.wrongPassphraseOrDamagedHeader) { try fixture.open(recoveryKey: recovery) }
        #expect(text(try fixture.open(recoveryKey: newRecovery).secret(named: "x")) == "value")
        #expect(text(try fixture.open(passphrase: "third passphrase").secret(named: "x")) == "value")
        #expect(text(try store.secret(named: "x")) == "value", "the handle that re-keyed goes on")
        #expect(throws: VaultError.rekeyedElsewhere) { try bystander.secret(named: "x") }
        #expect(throws: VaultError.rekeyedElsewhere, "nothing is written under the old key") {
            try bystander.setSecret(secure("stale"), named: "y")
        }
        #expect(try store.names(of: .secret) == ["x"])
    }

    @Test(arguments: allStores)
    func createOpenAndNames(_ kind: StoreKind) throws {
        let fixture = try StoreFixture(kind)
        #expect(throws: VaultError.vaultExists(path: fixture.store.path)) { try fixture.createAgain() }
        #expect(throws: VaultError.vaultNotFound(path: fixture.missingPath)) { try fixture.openMissing() }
        #expect(throws: VaultError.wrongPassphraseOrDamagedHeader) { try fixture.open(passphrase: "wrong") }
        let store = fixture.store
        for bad in ["", ".hidden", "-flag", "a/b", "sp ace", String(repeating: "x", count: 129)] {
            #expect(throws: VaultError.self) { try store.setSecret(secure("v"), named: bad) }
        }
        #expect(throws: VaultError.valueTooLarge(byteCount: (1 << 20) + 1)) {
            try store.setSecret(SecureBytes(count: (1 << 20) + 1), named: "big")
        }
        try store.setSecret(SecureBytes(count: 1 << 20), named: "big")
        #expect(try read(fixture.open(), EntryKey(.secret, "big")).text.utf8.count == 1 << 20)
    }

    @Test(arguments: allStores)
    func entryLocksExcludeEachOtherAcrossHandles(_ kind: StoreKind) async throws {
        let fixture = try StoreFixture(kind)
        let other = try fixture.open()
        let key = EntryKey(.grant, "app/user")
        let entered = AsyncStream<Void>.makeStream()
        let release = AsyncStream<Void>.makeStream()
        let holder = Task {
            try await fixture.store.withEntryLock(key, timeout: .seconds(30)) {
                entered.continuation.yield()
                for await _ in release.stream { break }
            }
        }
        for await _ in entered.stream { break }
        await #expect(throws: VaultError.entryLockTimeout(key)) {
            try await other.withEntryLock(key, timeout: .milliseconds(100)) {}
        }
        // Another entry's lock is free meanwhile.
        try await other.withEntryLock(EntryKey(.grant, "app/other"), timeout: .seconds(5)) {}
        release.continuation.yield()
        try await holder.value
        try await other.withEntryLock(key, timeout: .seconds(30)) {}
    }

    /// Random operation sequences against a plain dictionary, across reopen, compaction, passphrase
    /// change and re-key.
    @Test(arguments: allStores.flatMap { kind in [1, 2, 3, 4].map { (kind, UInt64($0)) } })
    func randomOperationsMatchADictionary(_ kind: StoreKind, seed: UInt64) throws {
        let fixture = try StoreFixture(kind)
        var store = fixture.store
        var model: [String: String] = [:]
        var random = SeededGenerator(seed: seed)
        let names = (0..<16).map { "name-\($0)" }
        for step in 0..<300 {
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<50:
                let name = names.randomElement(using: &random)!
                let value = String(repeating: "v\(step)-", count: Int.random(in: 0...40, using: &random))
                try store.setSecret(secure(value), named: name)
                model[name] = value
            case 50..<70:
                let name = names.randomElement(using: &random)!
                #expect(try store.removeSecret(named: name) == (model.removeValue(forKey: name) != nil))
            case 70..<85:
                let batch = (0..<Int.random(in: 1...5, using: &random)).map { _ in names.randomElement(using: &random)!
                }
                try store.write { (transaction) throws(VaultError) in
                    for (offset, name) in batch.enumerated() {
                        if offset % 3 == 2 {
                            transaction.remove(EntryKey(.secret, name))
                        } else {
                            try transaction.put(EntryKey(.secret, name), value: secure("batch-\(step)-\(offset)"))
                        }
                    }
                }
                for (offset, name) in batch.enumerated() {
                    model[name] = offset % 3 == 2 ? nil : "batch-\(step)-\(offset)"
                }
            case 85..<93:
                store = try fixture.open()
            case 93..<95:
                try store.compact()
            case 95..<97:
                try store.changePassphrase(to: secure(testPassphrase), kdf: testKDF)
            case 97:
                _ = try store.rekey(passphrase: secure(testPassphrase), kdf: testKDF, withRecoveryKey: false)
            default:
                let name = names.randomElement(using: &random)!
                #expect(text(try store.secret(named: name)) == model[name])
            }
        }
        #expect(try contents(of: store) == model)
        #expect(try contents(of: fixture.open()) == model)
        if let vault = try fixture.open() as? Vault {
            let statistics = try vault.verify()
            #expect(statistics.entryCounts[.secret] ?? 0 == model.count)
            #expect(statistics.tornTail == nil)
        }
    }
}

/// An entry's value as text and its version; fails the test when there is none.
func read(_ store: any KeyedVaultStore, _ key: EntryKey) throws -> (text: String, version: EntryVersion) {
    guard let versioned = try store.versionedValue(for: key) else {
        Issue.record("no entry \(key)")
        throw VaultError.entryNotFound(key)
    }
    return (String(decoding: versioned.value.withUnsafeBytes { Array($0) }, as: UTF8.self), versioned.version)
}
