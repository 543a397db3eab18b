import FoundationEssentials

/// An entry stored as a JSON object (apps and grants). The JSON lives only inside record ciphertext.
public protocol CodableEntry: Codable, Sendable {
    static var kind: EntryKind { get }
    /// The entry's name in the vault (`APP` for apps, `APP/USER` for grants).
    var entryName: String { get }
}

extension CodableEntry {
    var entryKey: EntryKey { EntryKey(Self.kind, entryName) }

    package static func decode(_ value: borrowing SecureBytes, key: EntryKey) throws(VaultError) -> Self {
        try value.withUnsafeBytes { (raw) throws(VaultError) -> Self in try decode(raw, key: key) }
    }

    package static func decode(_ value: UnsafeRawBufferPointer, key: EntryKey) throws(VaultError) -> Self {
        // Grants, the entries there are millions of, take the fast path when they are the usual flat object.
        if Self.self == Grant.self, let grant = Grant.decodeJSON(value) { return grant as! Self }
        do {
            return try JSONDecoder().decode(Self.self, from: Data(value))
        } catch {
            throw .undecodableEntry(key)
        }
    }
}

extension VaultTransaction {
    /// Stores an entry under its `entryName` as part of this batch (its JSON goes straight into the
    /// batch's secure memory; the encoder's buffer is wiped).
    public mutating func put<E: CodableEntry>(_ entry: E) throws(VaultError) {
        try put(entry, condition: nil)
    }

    /// Stores an entry only if it is still at `version` when the batch commits (nil: only if there is
    /// none); see `put(_:value:ifVersion:)`.
    public mutating func put<E: CodableEntry>(_ entry: E, ifVersion version: EntryVersion?) throws(VaultError) {
        try put(entry, condition: version.map { .version($0) } ?? .absent)
    }

    mutating func put<E: CodableEntry>(_ entry: E, condition: WriteCondition?) throws(VaultError) {
        if let grant = entry as? Grant {
            var bytes = grant.encodedJSON()  // the same bytes as JSONEncoder's, without its cost
            defer { Sodium.wipe(&bytes) }
            try bytes.withRawBytes { (raw) throws(VaultError) in
                try put(entry.entryKey, bytes: raw, condition: condition)
            }
            return
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard var data = try? encoder.encode(entry) else { throw .undecodableEntry(entry.entryKey) }
        defer { data.withUnsafeMutableBytes { Sodium.wipe($0) } }
        var failure: VaultError?
        data.withUnsafeBytes { bytes in
            do throws(VaultError) { try put(entry.entryKey, bytes: bytes, condition: condition) } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }
}
