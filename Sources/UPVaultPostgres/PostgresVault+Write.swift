import NIOCore
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
        _ = try commitReturningVersions(transaction)
    }

    /// `write`, returning the version each put gave its entry. A batch of one change is one statement
    /// (after the version is drawn); a larger batch is one transaction of a few statements over arrays,
    /// whatever its size.
    package func commitReturningVersions(_ transaction: VaultTransaction) throws -> [EntryKey: EntryVersion] {
        guard !transaction.isEmpty else { return [:] }
        let (vaultID, keys) = try current()
        var changes: [(change: PendingChange, hash: [UInt8])] = []
        transaction.forEachChange { (change, _) in
            changes.append((change, keys.nameHash(of: change.key)))
        }
        for attempt in 0..<2 {
            do {
                let written =
                    changes.count == 1
                    ? try writeOne(changes[0].change, hash: changes[0].hash, transaction, vaultID: vaultID, keys: keys)
                    : try writeBatch(changes, transaction, vaultID: vaultID, keys: keys)
                var versions: [EntryKey: EntryVersion] = [:]
                state.withLock { state in
                    for item in written {
                        state.seen[RowName(item.hash)] = item.lowest
                        if let key = item.key {
                            versions[key] = EntryVersion(generation: 0, record: UInt64(item.lowest))
                        }
                    }
                }
                return versions
            } catch HeaderMoved.moved where attempt == 0 {
                try checkHeader()  // throws when re-keyed; a passphrase change is taken, and the write tried again
            }
        }
        throw VaultError.rekeyedElsewhere
    }

    /// What a write did to one row: the lowest version this handle accepts for it from now on, and the
    /// key when it was a put (whose version that is).
    typealias Written = (hash: [UInt8], lowest: Int64, key: EntryKey?)

    /// The header row this handle holds, for statements that must not run under another key.
    private var heldHeaderBytes: [UInt8] { state.withLock { $0.headerBytes } }

    /// The header row was not the one this handle holds when the statement ran.
    enum HeaderMoved: Error { case moved }

    /// One change, one statement: the header row `FOR SHARE` and checked in the same statement, the
    /// condition in its `WHERE`. Zero rows means the header moved or the condition failed (told apart by
    /// looking at the header).
    private func writeOne(
        _ change: PendingChange, hash: [UInt8], _ transaction: VaultTransaction, vaultID: [UInt8], keys: RowKeys
    ) throws -> [Written] {
        let s = schema.quoted
        let held = heldHeaderBytes.bytea
        return try session.withConnection { link -> [Written] in
            if change.deletes {
                var expected: Int64? = nil
                if case .version(let version) = change.condition { expected = Int64(version.record) }
                let rows = try link.query(
                    """
                    WITH h AS (SELECT 1 FROM \(unescaped: s).header WHERE id = 1 AND bytes = \(held) FOR SHARE)
                    DELETE FROM \(unescaped: s).entries WHERE name_hash = \(hash.bytea)
                        AND (\(expected)::bigint IS NULL OR version = \(expected)) AND EXISTS (SELECT 1 FROM h)
                    RETURNING version
                    """
                ).randomAccessRows
                guard let row = rows.first else {
                    guard try headerIsHeld(link) else { throw HeaderMoved.moved }
                    if change.condition != nil { throw VaultError.conflict(change.key) }
                    return []
                }
                return [(hash, try row[0].decode(Int64.self) + 1, nil)]
            }
            let version = try nextVersions(1, link)[0]
            var row: SealedRow?
            transaction.forEachChange { (_, plaintext) in
                row = SealedRow.seal(
                    plaintext: plaintext, kind: change.key.kind, nameHash: hash, version: version, vaultID: vaultID,
                    keys: keys)
            }
            let sealed = row!
            let kind = Int16(sealed.kind.rawValue)
            let query: PostgresQuery
            switch change.condition {
            case .version(let expected):
                query = """
                    WITH h AS (SELECT 1 FROM \(unescaped: s).header WHERE id = 1 AND bytes = \(held) FOR SHARE)
                    UPDATE \(unescaped: s).entries SET kind = \(kind), version = \(version),
                        nonce = \(sealed.nonce.bytea), ciphertext = \(sealed.ciphertext.bytea)
                    WHERE name_hash = \(hash.bytea) AND version = \(Int64(expected.record)) AND version < \(version)
                        AND EXISTS (SELECT 1 FROM h)
                    """
            case .absent:
                query = """
                    WITH h AS (SELECT 1 FROM \(unescaped: s).header WHERE id = 1 AND bytes = \(held) FOR SHARE)
                    INSERT INTO \(unescaped: s).entries (name_hash, kind, version, nonce, ciphertext)
                    SELECT \(hash.bytea), \(kind), \(version), \(sealed.nonce.bytea), \(sealed.ciphertext.bytea) FROM h
                    ON CONFLICT (name_hash) DO NOTHING
                    """
            case nil:
                query = """
                    WITH h AS (SELECT 1 FROM \(unescaped: s).header WHERE id = 1 AND bytes = \(held) FOR SHARE)
                    INSERT INTO \(unescaped: s).entries (name_hash, kind, version, nonce, ciphertext)
                    SELECT \(hash.bytea), \(kind), \(version), \(sealed.nonce.bytea), \(sealed.ciphertext.bytea) FROM h
                    ON CONFLICT (name_hash) DO UPDATE SET kind = EXCLUDED.kind, version = EXCLUDED.version,
                        nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext
                    WHERE \(unescaped: s).entries.version < EXCLUDED.version
                    """
            }
            guard try link.execute(query) == 1 else {
                guard try headerIsHeld(link) else { throw HeaderMoved.moved }
                if change.condition != nil { throw VaultError.conflict(change.key) }
                throw VaultError.integrity(
                    .malformedRow(
                        nameHash: RowHex.prefix(hash), reason: "the version sequence is behind the row's version"))
            }
            return [(hash, version, change.key)]
        }
    }

    private func headerIsHeld(_ link: PostgresLink) throws -> Bool {
        let rows = try link.query("SELECT bytes FROM \(unescaped: schema.quoted).header WHERE id = 1").randomAccessRows
        return try rows.first?[0].bytes() == heldHeaderBytes
    }

    /// Several changes: one transaction, the rows locked with one statement, the puts and deletes applied
    /// with one statement each over arrays.
    private func writeBatch(
        _ changes: [(change: PendingChange, hash: [UInt8])], _ transaction: VaultTransaction, vaultID: [UInt8],
        keys: RowKeys
    ) throws -> [Written] {
        let putCount = changes.count { !$0.change.deletes }
        return try session.withConnection { link in
            try link.transaction {
                // The header row, shared: no re-key commits under this batch, and a handle a re-key behind
                // writes nothing under its old keys.
                guard try headerIsHeld(link, share: true) else { throw HeaderMoved.moved }
                let before = try lockRows(changes.map(\.hash), link)
                for (change, hash) in changes {
                    guard let condition = change.condition else { continue }
                    let current = before[RowName(hash)].map { EntryVersion(generation: 0, record: UInt64($0)) }
                    switch condition {
                    case .absent: guard current == nil else { throw VaultError.conflict(change.key) }
                    case .version(let version): guard current == version else { throw VaultError.conflict(change.key) }
                    }
                }
                var versions = try nextVersions(putCount, link)[...]
                // The last change of a key decides (the batch's changes apply in order).
                var final: [RowName: (hash: [UInt8], row: SealedRow?, key: EntryKey)] = [:]
                var order: [RowName] = []
                var index = 0
                try transaction.forEachChange { (change, plaintext) throws in
                    let hash = changes[index].hash
                    index += 1
                    let name = RowName(hash)
                    if final[name] == nil { order.append(name) }
                    guard !change.deletes else {
                        final[name] = (hash, nil, change.key)
                        return
                    }
                    let version = versions.removeFirst()
                    if let old = before[name], version <= old {
                        throw VaultError.integrity(
                            .malformedRow(
                                nameHash: RowHex.prefix(hash),
                                reason: "the version sequence is behind the row's version"))
                    }
                    final[name] = (
                        hash,
                        SealedRow.seal(
                            plaintext: plaintext, kind: change.key.kind, nameHash: hash, version: version,
                            vaultID: vaultID, keys: keys),
                        change.key
                    )
                }
                let puts = order.compactMap { final[$0]?.row }
                let deletes = order.compactMap { name in final[name].flatMap { $0.row == nil ? $0.hash : nil } }
                if !puts.isEmpty {
                    try link.execute(
                        """
                        INSERT INTO \(unescaped: schema.quoted).entries (name_hash, kind, version, nonce, ciphertext)
                        SELECT * FROM unnest(\(puts.map { ByteBuffer(bytes: $0.nameHash) })::bytea[],
                            \(puts.map { Int16($0.kind.rawValue) })::int2[], \(puts.map(\.version))::int8[],
                            \(puts.map { ByteBuffer(bytes: $0.nonce) })::bytea[], \(puts.map { ByteBuffer(bytes: $0.ciphertext) })::bytea[])
                        ON CONFLICT (name_hash) DO UPDATE SET kind = EXCLUDED.kind, version = EXCLUDED.version,
                            nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext
                        """)
                }
                if !deletes.isEmpty {
                    try link.execute(
                        """
                        DELETE FROM \(unescaped: schema.quoted).entries
                        WHERE name_hash = ANY(\(deletes.map { ByteBuffer(bytes: $0) })::bytea[])
                        """)
                }
                return order.compactMap { name -> Written? in
                    guard let item = final[name] else { return nil }
                    if let row = item.row { return (item.hash, row.version, item.key) }
                    return before[name].map { (item.hash, $0 + 1, nil) }
                }
            }
        }
    }

    private func headerIsHeld(_ link: PostgresLink, share: Bool) throws -> Bool {
        let rows = try link.query(
            "SELECT bytes FROM \(unescaped: schema.quoted).header WHERE id = 1 FOR SHARE"
        ).randomAccessRows
        return try rows.first?[0].bytes() == heldHeaderBytes
    }

    /// Locks the existing rows among `hashes` (in name hash order, one statement) and returns their versions.
    func lockRows(_ hashes: [[UInt8]], _ link: PostgresLink) throws -> [RowName: Int64] {
        let rows = try link.query(
            """
            SELECT name_hash, version FROM \(unescaped: schema.quoted).entries
            WHERE name_hash = ANY(\(hashes.map { ByteBuffer(bytes: $0) })::bytea[])
            ORDER BY name_hash FOR UPDATE
            """
        ).randomAccessRows
        var versions: [RowName: Int64] = [:]
        for row in rows { versions[RowName(try row[0].bytes())] = try row[1].decode(Int64.self) }
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

    /// Puts one entry inside a transaction the caller holds on `link` (row locked, new version, sealed).
    func putInTransaction(
        _ key: EntryKey, bytes: [UInt8], vaultID: [UInt8], keys: RowKeys, _ link: PostgresLink
    ) throws {
        let hash = keys.nameHash(of: key)
        let before = try lockRows([hash], link)
        let version = try nextVersions(1, link)[0]
        if let old = before[RowName(hash)], version <= old {
            throw VaultError.integrity(
                .malformedRow(nameHash: RowHex.prefix(hash), reason: "the version sequence is behind the row's version")
            )
        }
        let row = try bytes.withUnsafeBytes { (value) throws(VaultError) in
            try SealedRow.seal(key, value: value, version: version, vaultID: vaultID, keys: keys)
        }
        try link.execute(
            """
            INSERT INTO \(unescaped: schema.quoted).entries (name_hash, kind, version, nonce, ciphertext)
            VALUES (\(row.nameHash.bytea), \(Int16(row.kind.rawValue)), \(row.version), \(row.nonce.bytea), \(row.ciphertext.bytea))
            ON CONFLICT (name_hash) DO UPDATE SET kind = EXCLUDED.kind, version = EXCLUDED.version,
                nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext
            """)
        state.withLock { $0.seen[RowName(hash)] = version }
    }
}
extension PostgresVault: VersionReportingStore {}
