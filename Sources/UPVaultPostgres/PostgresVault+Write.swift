import PostgresNIO
import Synchronization
public import UPVault

/// Writing entries: one batch, one transaction.
extension PostgresVault {
    /// Applies every change made in `body` in one transaction, all or nothing. Rows are locked in name
    /// hash order (so two batches never deadlock), every condition is checked against the rows as they
    /// were before the batch, then each put gets a new version from the vault's sequence and is sealed
    /// with it. A failed condition is `VaultError.conflict`, and nothing is written.
    public func write(_ body: (inout VaultTransaction) throws -> Void) throws {
        var transaction = VaultTransaction()
        try body(&transaction)
        guard !transaction.isEmpty else { return }
        let (vaultID, keys) = try current()
        var changes: [(change: PendingChange, hash: [UInt8])] = []
        transaction.forEachChange { (change, _) in
            changes.append((change, keys.nameHash(of: change.key)))
        }
        let putCount = changes.count { !$0.change.deletes }
        let written: [(hash: [UInt8], lowest: Int64)] = try session.withConnection { link in
            try link.transaction {
                // The header row, shared: no re-key commits under this batch, and a handle a re-key behind
                // writes nothing under its old keys.
                let header = try link.query(
                    "SELECT bytes FROM \(unescaped: schema.quoted).header WHERE id = 1 FOR SHARE"
                ).randomAccessRows
                guard let headerRow = header.first else {
                    throw VaultError.integrity(.malformedHeader("the header row is missing"))
                }
                try adoptHeader(try headerRow[0].bytes())
                let before = try lockRows(Set(changes.map { RowName($0.hash) }), hashes: changes.map(\.hash), link)
                for (change, hash) in changes {
                    guard let condition = change.condition else { continue }
                    let current = before[RowName(hash)].map { EntryVersion(generation: 0, record: UInt64($0)) }
                    switch condition {
                    case .absent: guard current == nil else { throw VaultError.conflict(change.key) }
                    case .version(let version): guard current == version else { throw VaultError.conflict(change.key) }
                    }
                }
                var versions = try nextVersions(putCount, link)[...]
                var written: [(hash: [UInt8], lowest: Int64)] = []
                var index = 0
                try transaction.forEachChange { (change, plaintext) throws in
                    let hash = changes[index].hash
                    index += 1
                    if change.deletes {
                        try link.execute(
                            "DELETE FROM \(unescaped: schema.quoted).entries WHERE name_hash = \(hash.bytea)")
                        if let old = before[RowName(hash)] { written.append((hash, old + 1)) }
                        return
                    }
                    let version = versions.removeFirst()
                    if let old = before[RowName(hash)], version <= old {
                        throw VaultError.integrity(
                            .malformedRow(
                                nameHash: RowHex.prefix(hash),
                                reason: "the version sequence is behind the row's version"))
                    }
                    let row = SealedRow.seal(
                        plaintext: plaintext, kind: change.key.kind, nameHash: hash, version: version, vaultID: vaultID,
                        keys: keys)
                    try link.execute(
                        """
                        INSERT INTO \(unescaped: schema.quoted).entries (name_hash, kind, version, nonce, ciphertext)
                        VALUES (\(row.nameHash.bytea), \(Int16(row.kind.rawValue)), \(row.version), \(row.nonce.bytea), \(row.ciphertext.bytea))
                        ON CONFLICT (name_hash) DO UPDATE SET kind = EXCLUDED.kind, version = EXCLUDED.version,
                            nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext
                        """)
                    written.append((hash, version))
                }
                return written
            }
        }
        state.withLock { state in
            for (hash, lowest) in written { state.seen[RowName(hash)] = lowest }
        }
    }

    /// Locks the existing rows among `hashes` (in name hash order) and returns their versions.
    func lockRows(_ distinct: Set<RowName>, hashes: [[UInt8]], _ link: PostgresLink) throws -> [RowName: Int64] {
        var seen = Set<RowName>()
        let ordered = hashes.filter { seen.insert(RowName($0)).inserted }.sorted { $0.lexicographicallyPrecedes($1) }
        var versions: [RowName: Int64] = [:]
        for hash in ordered {
            let rows = try link.query(
                "SELECT version FROM \(unescaped: schema.quoted).entries WHERE name_hash = \(hash.bytea) FOR UPDATE"
            ).randomAccessRows
            if let row = rows.first { versions[RowName(hash)] = try row[0].decode(Int64.self) }
        }
        return versions
    }

    /// `count` new versions from the vault's sequence, increasing.
    func nextVersions(_ count: Int, _ link: PostgresLink) throws -> [Int64] {
        guard count > 0 else { return [] }
        let rows = try link.query(
            "SELECT nextval('\(unescaped: schema.quoted).versions') FROM generate_series(1, \(count))"
        ).randomAccessRows
        let versions = try rows.map { try $0[0].decode(Int64.self) }.sorted()
        guard versions.count == count, versions.allSatisfy({ $0 >= 1 }) else {
            throw VaultError.integrity(.malformedRow(nameHash: "-", reason: "the version sequence answered wrongly"))
        }
        return versions
    }
}
