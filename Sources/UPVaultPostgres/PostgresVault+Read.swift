import PostgresNIO
import Synchronization
public import UPVault

/// Reading entries: every row is checked (columns, authentication, name, version not older than seen)
/// before anything of it is used.
extension PostgresVault {
    public func value(for key: EntryKey) throws -> SecureBytes? {
        guard let versioned = try versionedValue(for: key) else { return nil }
        return versioned.takeValue()
    }

    public func versionedValue(for key: EntryKey) throws -> VersionedValue? {
        let (_, keys) = try current()
        let hash = keys.nameHash(of: key)
        let rows = try session.withConnection { link in
            try link.query(
                "SELECT kind, name_hash, version, nonce, ciphertext FROM \(unescaped: schema.quoted).entries WHERE name_hash = \(hash.bytea)"
            ).randomAccessRows
        }
        guard let row = rows.first else {
            // No row: none for this name, or this handle's keys are a re-key behind (its name hashes
            // changed with the key).
            try checkHeader()
            return nil
        }
        let sealed = try Self.sealedRow(row)
        guard sealed.kind == key.kind else {
            throw VaultError.integrity(.malformedRow(nameHash: RowHex.prefix(hash), reason: "another kind's row"))
        }
        return try open(sealed, expected: key) { (_, value) throws(VaultError) in
            VersionedValue(value: SecureBytes(copying: value), version: sealed.entryVersion)
        }
    }

    public func contains(_ key: EntryKey) throws -> Bool {
        try versionedValue(for: key) != nil
    }

    public func names(of kind: EntryKind) throws -> [String] {
        var names: [String] = []
        try forEachRow(of: kind) { (name, _, _) throws(VaultError) in names.append(name) }
        return names.sorted(by: EntryName.precedes)
    }

    /// Every entry of one kind (in no particular order): its name, version and value's bytes (valid
    /// during the call).
    package func forEachRow(
        of kind: EntryKind, _ body: (String, EntryVersion, UnsafeRawBufferPointer) throws(VaultError) -> Void
    ) throws {
        let rows = try session.withConnection { link in
            try link.query(
                "SELECT kind, name_hash, version, nonce, ciphertext FROM \(unescaped: schema.quoted).entries WHERE kind = \(Int16(kind.rawValue))"
            ).randomAccessRows
        }
        for row in rows {
            let sealed = try Self.sealedRow(row)
            try open(sealed, expected: nil) { (name, value) throws(VaultError) in
                try body(String(decoding: name, as: UTF8.self), sealed.entryVersion, value)
            }
        }
    }

    /// A row's columns, checked.
    static func sealedRow(_ row: PostgresRandomAccessRow) throws -> SealedRow {
        try SealedRow(
            kindCode: try row[0].decode(Int16.self), nameHash: try row[1].bytes(),
            version: try row[2].decode(Int64.self),
            nonce: try row[3].bytes(), ciphertext: try row[4].bytes())
    }

    /// Decrypts a row with this handle's keys, refusing one older than a version already seen, and
    /// remembers its version. A row that does not authenticate sends the handle to look at the header
    /// row: re-keyed by another process is `rekeyedElsewhere`.
    func open<R: ~Copyable & Sendable>(
        _ row: SealedRow, expected: EntryKey?,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws(VaultError) -> R
    ) throws -> R {
        let name = RowName(row.nameHash)
        do {
            return try state.withLock { (state) throws(VaultError) -> R in
                guard !state.wiped else { throw .handleUnusable }
                if let seen = state.seen[name], row.version < seen {
                    throw .integrity(
                        .rowWentBackInTime(
                            nameHash: RowHex.prefix(row.nameHash), version: row.version, seenVersion: seen))
                }
                let result = try row.open(
                    vaultID: state.header.vaultID, keys: state.keys, expected: expected, scratch: &state.scratch, body)
                state.seen[name] = row.version
                return result
            }
        } catch {
            // Matched with `if case`, not a `catch` pattern: this compiler miscompiled the pattern form
            // over a typed error here (a payload copied after its lifetime; a crash in the tamper tests).
            if case .integrity(.rowAuthentication) = error { try checkHeader() }
            throw error
        }
    }

    /// Compares the header row with the one this handle holds. A new header whose MAC verifies with this
    /// handle's keys is a passphrase or recovery-key change: taken (its generation must be higher). One
    /// that does not verify is a re-key by another process (`rekeyedElsewhere`) when its generation is
    /// higher, else a changed or restored header row.
    func checkHeader() throws {
        let bytes = try session.withConnection { link in
            try Self.readHeader(link, schema: schema, location: location)
        }
        try adoptHeader(bytes)
    }

    func adoptHeader(_ bytes: [UInt8]) throws {
        let (held, generation, keys) = state.withLock { ($0.headerBytes, $0.header.generation, $0.keys) }
        guard bytes != held else { return }
        let header = try RowHeader.decode(bytes)
        guard (try? header.verified(keys, bytes)) != nil else {
            if header.generation > generation { throw VaultError.rekeyedElsewhere }
            throw VaultError.integrity(.headerAuthentication)
        }
        guard header.generation > generation else { throw VaultError.integrity(.headerAuthentication) }
        state.withLock { state in
            if header.generation > state.header.generation {
                state.header = header
                state.headerBytes = bytes
            }
        }
    }
}

extension SealedRow {
    /// The version as `EntryVersion` (generation 0: rows have no file generation).
    var entryVersion: EntryVersion { EntryVersion(generation: 0, record: UInt64(version)) }
}
