import PostgresNIO
import Synchronization
public import UPVault

/// `fsck` for a vault in rows: the header row again, then every row of the table, each checked as a
/// read checks it (columns, authentication, plaintext, name hash, version not older than seen) and each
/// app, grant and run journal decoded.
extension PostgresVault {
    /// Verifies the whole vault and returns what it holds. `recordCount` is the number of rows and
    /// `fileSize` the bytes they store (name hashes, nonces, ciphertexts); rows have no dead records
    /// and no tail.
    public func verify() throws -> VaultStatistics {
        try checkHeader()
        let rows = try session.withConnection { link in
            try link.query(
                "SELECT kind, name_hash, version, nonce, ciphertext FROM \(unescaped: schema.quoted).entries"
            ).randomAccessRows
        }
        var counts: [EntryKind: Int] = [:]
        for kind in EntryKind.allCases { counts[kind] = 0 }
        var bytes = 0
        for row in rows {
            let sealed = try Self.sealedRow(row)
            try open(sealed, expected: nil) { (name, value) throws(VaultError) in
                let key = EntryKey(sealed.kind, String(decoding: name, as: UTF8.self))
                try Self.checkDecodes(key, value)
            }
            counts[sealed.kind, default: 0] += 1
            bytes += sealed.nameHash.count + sealed.nonce.count + sealed.ciphertext.count
        }
        let header = state.withLock { $0.header }
        return VaultStatistics(
            generation: header.generation, createdAt: header.createdAt, entryCounts: counts, recordCount: rows.count,
            deadRecordCount: 0, fileSize: bytes, tornTail: nil, kdf: header.passphraseKDF,
            hasRecoveryKey: header.hasRecoveryKey)
    }

    /// Counts of what the vault holds, from the table (no row decrypted).
    public func statistics() throws -> VaultStatistics {
        let rows = try session.withConnection { link in
            try link.query(
                "SELECT kind, count(*), coalesce(sum(length(ciphertext) + 56), 0)::bigint FROM \(unescaped: schema.quoted).entries GROUP BY kind"
            ).randomAccessRows
        }
        var counts: [EntryKind: Int] = [:]
        for kind in EntryKind.allCases { counts[kind] = 0 }
        var total = 0
        var bytes = 0
        for row in rows {
            let code = try row[0].decode(Int16.self)
            let count = try row[1].decode(Int64.self)
            let size = try row[2].decode(Int64.self)
            if let kind = EntryKind(rawValue: UInt8(truncatingIfNeeded: code)) { counts[kind] = Int(count) }
            total += Int(count)
            bytes += Int(size)
        }
        let header = state.withLock { $0.header }
        return VaultStatistics(
            generation: header.generation, createdAt: header.createdAt, entryCounts: counts, recordCount: total,
            deadRecordCount: 0, fileSize: bytes, tornTail: nil, kdf: header.passphraseKDF,
            hasRecoveryKey: header.hasRecoveryKey)
    }

    static func checkDecodes(_ key: EntryKey, _ value: UnsafeRawBufferPointer) throws(VaultError) {
        switch key.kind {
        case .secret: return
        case .app: _ = try App.decode(value, key: key)
        case .grant: _ = try Grant.decode(value, key: key)
        case .refreshRun: return  // journals of several run kinds; each run decodes its own
        }
    }
}
