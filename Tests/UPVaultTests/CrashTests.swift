import Foundation
import Synchronization
import Testing
import UPVaultTesting

@testable import UPVault

/// Child processes write and are killed with SIGKILL at random moments. Every write the child
/// acknowledged (printed after the call returned, that is after fdatasync) must be there afterwards,
/// and the vault must open: with at most a reported torn tail, which the next writer removes.
@Suite(.serialized) struct CrashTests {
    @Test func killedAppendersLoseNothingAcknowledged() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        let passfile = directory.privateFile("pass", contents: testPassphrase + "\n")
        var random = SeededGenerator(seed: 42)
        var acknowledged: [String: String] = [:]
        var next = 0
        var tornSeen = 0
        for round in 0..<150 {
            let batch = round % 3 == 0 ? 5 : 1
            let child = try Child(
                Products.helper, ["append", vault.path, passfile, "r", String(next), "100000", String(batch)])
            // Killed after a random number of acknowledged writes (none: while it opens the vault).
            child.waitForLines(Int.random(in: 0...12, using: &random))
            child.kill()
            let result = child.finish()
            #expect(result.status == SIGKILL || result.errors.isEmpty, "child failed: \(result.errors)")
            if let last = result.lines.last.flatMap({ Int($0) }) {
                for i in next...last { acknowledged["r-\(i)"] = "value-r-\(i)" }
                next = last + 1
            }
            // Anything after the last acknowledged write was in flight: skip those names.
            next += batch * 2

            let reopened = try reopen(vault.path)
            let statistics = try reopened.statistics()
            if statistics.tornTail != nil { tornSeen += 1 }
            let found = try contents(of: reopened)
            for (name, value) in acknowledged {
                #expect(found[name] == value, "acknowledged write \(name) lost in round \(round)")
            }
        }
        let final = try reopen(vault.path)
        try final.repair()
        #expect(try final.verify().tornTail == nil)
        #expect(acknowledged.count > 100, "the children acknowledged too little to make the test meaningful")
        print("crash test: \(acknowledged.count) acknowledged writes, \(tornSeen) torn tails seen and recovered")
    }

    /// A kill leaves the page cache alone, so the test above cannot see a missing `fdatasync`; a power
    /// cut would. Every batch that returns has been synced exactly once (the count shows that, not the
    /// order: the sync's place after the write is `Vault.append`'s); one that fails its condition writes
    /// and syncs nothing.
    @Test func everyAcknowledgedBatchIsSyncedOnce() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        let syncs = { vault.state.withLock { $0.file.syncCount.load(ordering: .relaxed) } }
        let before = syncs()
        try vault.put(EntryKey(.secret, "one"), value: secure("1"))
        #expect(syncs() == before + 1)
        try vault.write { batch in
            for name in ["two", "three", "four"] { try batch.put(EntryKey(.secret, name), value: secure(name)) }
        }
        #expect(syncs() == before + 2)
        let size = fileBytes(vault.path).count
        #expect(throws: VaultError.conflict(EntryKey(.secret, "one"))) {
            try vault.write { batch in try batch.put(EntryKey(.secret, "one"), value: secure("x"), ifVersion: nil) }
        }
        #expect(syncs() == before + 2 && fileBytes(vault.path).count == size)
    }

    /// A full disk, as a file-size limit makes it (`ulimit -f` with SIGXFSZ ignored: a write stops part
    /// way and then fails, as on ENOSPC): the batch that does not fit fails with a clear error, every batch
    /// acknowledged before it is there, nothing of the failed one is, and the file has no tail and takes
    /// writes again once there is room.
    @Test func aFullDiskFailsOneBatchAndLosesNothing() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        let passfile = directory.privateFile("pass", contents: testPassphrase + "\n")
        let blocks = fileBytes(vault.path).count / 1024 + 16
        let child = try Child(
            "/bin/bash",
            [
                "-c", "trap '' XFSZ; ulimit -f \(blocks); exec \"$@\"", "bash", Products.helper, "append", vault.path,
                passfile, "d", "0", "100000", "3",
            ])
        let result = child.finish()
        #expect(result.status == 2)
        #expect(result.errors.contains("write \(vault.path): "), "\(result.errors)")
        let last = try #require(result.lines.last.flatMap { Int($0) }, "\(result.errors)")
        #expect(last > 30, "the limit left too little room to mean anything")

        let reopened = try reopen(vault.path)
        #expect(try reopened.tail() == nil)
        let found = try contents(of: reopened)
        #expect(found.count == last + 1)
        for i in 0...last { #expect(found["d-\(i)"] == "value-d-\(i)", "acknowledged write d-\(i) lost") }
        try reopened.put(EntryKey(.secret, "after"), value: secure("room again"))
        #expect(try reopened.verify().tornTail == nil)
        #expect(text(try reopen(vault.path).secret(named: "after")) == "room again")
    }

    @Test func killedCompactionsLeaveTheOldOrTheNewFileNeverAMix() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        for i in 0..<50 { try vault.setSecret(secure("base-\(i)"), named: "base-\(i)") }
        let passfile = directory.privateFile("pass", contents: testPassphrase + "\n")
        var random = SeededGenerator(seed: 4242)
        var latest: [Int: Int] = [:]
        for round in 0..<60 {
            let prefix = "c\(round)"
            let child = try Child(Products.helper, ["churn", vault.path, passfile, prefix, "100000"])
            // Killed after a random number of acknowledged writes: compactions run every few of them.
            child.waitForLines(Int.random(in: 1...30, using: &random))
            child.kill()
            let result = child.finish()
            if let last = result.lines.last.flatMap({ Int($0) }) { latest[round] = last }

            let reopened = try reopen(vault.path)
            let found = try contents(of: reopened)
            for i in 0..<50 { #expect(found["base-\(i)"] == "base-\(i)", "round \(round) lost base-\(i)") }
            if let last = latest[round] {
                // The newest acknowledged value of each slot is there (or a newer unacknowledged one).
                for slot in 0..<8 where slot <= last {
                    let newest = last - ((last - slot) % 8)
                    let value = found["\(prefix)-\(slot)"]
                    let number = value.flatMap { Int($0.split(separator: "-").last!) } ?? -1
                    #expect(
                        number >= newest,
                        "round \(round): \(prefix)-\(slot) is \(value ?? "missing"), acknowledged \(newest)")
                }
            }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
                $0.contains(".tmp-")
            }
            #expect(leftovers.count <= 1, "stale temporaries pile up: \(leftovers)")
        }
        #expect(latest.count > 30)
    }
}

/// Several processes append to one vault at the same time: every write of every process is there and
/// the chain verifies.
@Suite(.serialized) struct ConcurrencyTests {
    @Test func concurrentWritersLoseNothing() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        let passfile = directory.privateFile("pass", contents: testPassphrase + "\n")
        let writers = 6
        let perWriter = 60
        let children = try (0..<writers).map { w in
            try Child(
                Products.helper,
                ["append", vault.path, passfile, "w\(w)", "0", String(perWriter), w % 2 == 0 ? "1" : "4"])
        }
        for child in children {
            let result = child.finish()
            #expect(result.status == 0, "writer failed: \(result.errors)")
        }
        // Threads in this process write through their own handles meanwhile-style, after the children.
        let found = try contents(of: reopen(vault.path))
        for w in 0..<writers {
            for i in 0..<perWriter { #expect(found["w\(w)-\(i)"] == "value-w\(w)-\(i)") }
        }
        let statistics = try reopen(vault.path).verify()
        #expect(statistics.entryCounts[.secret] == writers * perWriter)
        #expect(statistics.tornTail == nil)
    }

    @Test func threadsSharingOneHandleAndThreadsWithTheirOwn() throws {
        let directory = TemporaryDirectory()
        let shared = try makeVault(in: directory)
        let path = shared.path
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            let own = try? reopen(path)
            for i in 0..<25 {
                let handle = thread % 2 == 0 ? shared : own!
                try? handle.setSecret(secure("t\(thread)-\(i)"), named: "t\(thread)-\(i)")
            }
        }
        let found = try contents(of: reopen(path))
        #expect(found.count == 200)
        for thread in 0..<8 { for i in 0..<25 { #expect(found["t\(thread)-\(i)"] == "t\(thread)-\(i)") } }
    }
}

/// Nothing stored appears in the file in clear: no name, no value, in any encoding we could leak.
@Suite struct PlaintextTests {
    static func occurs(_ needle: [UInt8], in haystack: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<start + needle.count]) == needle { return true }
        }
        return false
    }

    @Test func theFileContainsNoNameAndNoValue() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        var needles: [String] = [testPassphrase]
        for i in 0..<20 {
            let name = "secret-name-\(i)"
            let value = "secret-value-\(i)-\(String(repeating: "x", count: i))"
            try vault.setSecret(secure(value), named: name)
            needles += [name, value]
        }
        try vault.put(EntryTests.app)
        try vault.put(EntryTests.grant)
        needles += [
            "client-id", "new-secret", "old-secret", "access-token", "refresh-token", "andy@example.com", "jd7m17NGC0",
            "basic_read", "jawbone",
        ]
        _ = try vault.addRecoveryKey()
        try vault.changePassphrase(to: secure("another passphrase"))
        needles.append("another passphrase")
        let bytes = fileBytes(vault.path) + fileBytes(Vault.lockPath(for: vault.path))
        for needle in needles {
            for form in [
                Array(needle.utf8), Array(needle.utf8.prefix(8)),
                Array(needle.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }),
            ] {
                #expect(!Self.occurs(form, in: bytes), "'\(needle)' appears in the vault file")
            }
        }
    }

    @Test func filesAreCreatedPrivate() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        try vault.compact()
        for path in [vault.path, Vault.lockPath(for: vault.path)] {
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! Int
            #expect(mode == 0o600, "\(path) has mode \(String(mode, radix: 8))")
        }
    }
}
