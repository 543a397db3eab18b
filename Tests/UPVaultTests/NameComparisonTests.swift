import Testing
import UPVaultTesting

@testable import UPVault

/// Names are bytes (FORMAT.md, "Entries"): canonically equivalent spellings are different entries, in
/// the index, in lookups, in listings and through a rewrite, as a byte-comparing reader sees them.
@Suite struct NameComparisonTests {
    static let composed = "caf\u{E9}"  // é as one code point
    static let decomposed = "cafe\u{301}"  // e and a combining acute accent

    /// Writes records the public API would refuse (upvault itself writes ASCII names only), as a file
    /// from another writer could hold them.
    static func put(_ values: [(String, String)], into vault: Vault) throws {
        let arena = SecureArena()
        var records: [PendingRecord] = []
        for (name, value) in values {
            let slot = arena.allocate(
                RecordFrame.plaintextByteCount(nameCount: name.utf8.count, valueCount: value.utf8.count))
            Array(value.utf8).withUnsafeBytes { bytes in
                arena.withMutableBytes(slot) { out in
                    RecordFrame.writePlaintext(
                        into: out, operation: .put, kind: .secret, endsBatch: false, name: Array(name.utf8),
                        value: bytes)
                }
            }
            records.append(PendingRecord(operation: .put, key: EntryKey(.secret, name), slot: slot))
        }
        try vault.commit(records, arena: arena)
    }

    @Test func namesAreTheSameOnlyByteForByte() {
        #expect(EntryName.same("up/user1", "up/user1"))
        #expect(EntryName.same("", ""))
        #expect(!EntryName.same("up/user1", "up/user10"))
        #expect(!EntryName.same("up/user10", "up/user1"))
        #expect(!EntryName.same("up/user1", "up/user2"))
        #expect(!EntryName.same(Self.composed, Self.decomposed))
        // A name sliced out of a longer text and one built whole: the same bytes, the same name.
        let text = "grant up/user1 fresh"
        let sliced = String(text.split(separator: " ")[1])
        #expect(EntryKey(.grant, sliced) == EntryKey(.grant, "up/user1"))
        #expect(EntryKey(.grant, sliced).hashValue == EntryKey(.grant, "up/user1").hashValue)
        #expect(EntryKey(.grant, "up/user1") != EntryKey(.secret, "up/user1"))
    }

    @Test func canonicallyEquivalentNamesAreTwoEntries() throws {
        #expect(Self.composed == Self.decomposed, "Swift's String equality is canonical equivalence")
        #expect(EntryKey(.secret, Self.composed) != EntryKey(.secret, Self.decomposed))
        #expect(Set([EntryKey(.secret, Self.composed), EntryKey(.secret, Self.decomposed)]).count == 2)

        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        try Self.put([(Self.composed, "one"), (Self.decomposed, "two")], into: vault)
        for handle in [vault, try reopen(vault.path)] {
            let names = try handle.secretNames()
            #expect(names.count == 2)
            #expect(names.map { Array($0.utf8) } == [Array(Self.decomposed.utf8), Array(Self.composed.utf8)])
            #expect(text(try handle.value(for: EntryKey(.secret, Self.composed))) == "one")
            #expect(text(try handle.value(for: EntryKey(.secret, Self.decomposed))) == "two")
        }
        try vault.compact()
        let compacted = try reopen(vault.path)
        #expect(text(try compacted.value(for: EntryKey(.secret, Self.composed))) == "one")
        #expect(text(try compacted.value(for: EntryKey(.secret, Self.decomposed))) == "two")
    }

    @Test func namesSortByTheirBytes() {
        let names = ["b", "a", "\u{E9}", "e\u{301}", "Z"]
        #expect(names.sorted(by: EntryName.precedes) == ["Z", "a", "b", "e\u{301}", "\u{E9}"])
    }
}

/// FORMAT.md, "Entries": an app or grant value that is not the JSON object described is undecodable
/// (it authenticated), never an integrity error and never a crash.
@Suite struct EntryValueTests {
    @Test(arguments: ["[1]", "\"up\"", "null", "1", "{}", "{\"name\": 5}", "not json", "\u{FF}"])
    func valuesThatAreNotTheObjectAreUndecodable(_ raw: String) throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        for kind in [EntryKind.app, .grant] {
            let key = EntryKey(kind, kind == .grant ? "up/andy" : "up")
            try vault.put(key, value: SecureBytes(copying: Array(raw.utf8)))
            #expect(throws: VaultError.undecodableEntry(key)) {
                if kind == .app {
                    _ = try vault.entry(App.self, named: key.name)
                } else {
                    _ = try vault.entry(Grant.self, named: key.name)
                }
            }
        }
    }
}
