import PostgresNIO
import Synchronization
public import UPVault

/// Key management: the header row changes in a transaction conditional on the header this handle holds
/// (another process's key change first is `rekeyedElsewhere`); a re-key re-encrypts every row in the
/// same transaction.
extension PostgresVault {
    /// Replaces the passphrase; the master key stays, so the rows are untouched and the recovery key keeps
    /// working. `kdf` defaults to the current passphrase slot's parameters.
    public func changePassphrase(to passphrase: borrowing SecureBytes, kdf: KDFParameters? = nil) throws {
        let (header, keys) = try heldHeader()
        try replaceHeader(with: try header.changingPassphrase(to: passphrase, kdf: kdf, keys: keys), keys: keys)
    }

    /// Adds a recovery-key slot (replacing any) and returns the new recovery key, to show once.
    public func addRecoveryKey() throws -> SecureBytes {
        let (header, keys) = try heldHeader()
        var change = header.addingRecoveryKey(keys: keys)
        try replaceHeader(with: change.header, keys: keys)
        return change.takeRecoveryKey()!
    }

    /// Draws a new master key and re-encrypts every row under it (each with a new version) in one
    /// transaction with the new header row. The old recovery key stops working; with `withRecoveryKey` a
    /// new one is made and returned.
    public func rekey(
        passphrase: borrowing SecureBytes, kdf: KDFParameters? = nil, withRecoveryKey: Bool = false
    ) throws -> SecureBytes? {
        let (header, oldKeys) = try heldHeader()
        var change = try header.rekeyed(passphrase: passphrase, kdf: kdf, withRecoveryKey: withRecoveryKey)
        let newBytes = change.header.encoded(keys: change.keys)
        let vaultID = header.vaultID
        let newKeys = change.keys
        let held = state.withLock { $0.headerBytes }
        let versions: [(RowName, Int64)] = try session.withConnection { link in
            try link.transaction {
                try lockHeader(expecting: held, link)
                // A campaign's items name grants by name hash, which a re-key changes: not while one runs (a
                // campaign that starts now waits for the header this transaction holds, then fails on it).
                let running = try link.query(
                    "SELECT id FROM \(unescaped: schema.quoted).campaigns WHERE finished_at IS NULL"
                ).randomAccessRows
                if let campaign = running.first {
                    throw PostgresStoreError.campaignRunning(id: try campaign[0].decode(Int64.self))
                }
                let rows = try link.query(
                    "SELECT kind, name_hash, version, nonce, ciphertext FROM \(unescaped: schema.quoted).entries ORDER BY name_hash FOR UPDATE"
                ).randomAccessRows
                var fresh = try nextVersions(rows.count, link)[...]
                var versions: [(RowName, Int64)] = []
                var scratch = SecureBytes(count: 4096)
                for row in rows {
                    let old = try Self.sealedRow(row)
                    let version = fresh.removeFirst()
                    let sealed = try old.open(vaultID: vaultID, keys: oldKeys, scratch: &scratch) {
                        (name, value) throws(VaultError) -> SealedRow in
                        let key = EntryKey(old.kind, String(decoding: name, as: UTF8.self))
                        return try SealedRow.seal(key, value: value, version: version, vaultID: vaultID, keys: newKeys)
                    }
                    try link.execute(
                        """
                        UPDATE \(unescaped: schema.quoted).entries SET name_hash = \(sealed.nameHash.bytea), version = \(version),
                            nonce = \(sealed.nonce.bytea), ciphertext = \(sealed.ciphertext.bytea)
                        WHERE name_hash = \(old.nameHash.bytea)
                        """)
                    versions.append((RowName(sealed.nameHash), version))
                }
                try link.execute("UPDATE \(unescaped: schema.quoted).header SET bytes = \(newBytes.bytea) WHERE id = 1")
                return versions
            }
        }
        let newHeader = change.header
        state.withLock { state in
            state.header = newHeader
            state.headerBytes = newBytes
            state.keys = newKeys
            state.seen = Dictionary(versions, uniquingKeysWith: max)
        }
        logger.info("re-keyed vault", metadata: ["url": "\(path)", "entries": "\(versions.count)"])
        return change.takeRecoveryKey()
    }

    /// Database vaults need no compaction: a write replaces its row. This asks the server to reclaim the
    /// space of replaced rows now (`VACUUM`), so superseded ciphertexts leave the table's pages.
    public func compact() throws {
        try session.withConnection { link in
            try link.execute("VACUUM \(unescaped: schema.quoted).entries")
        }
    }

    func heldHeader() throws(VaultError) -> (RowHeader, RowKeys) {
        try state.withLock { (state) throws(VaultError) -> (RowHeader, RowKeys) in
            guard !state.wiped else { throw .handleUnusable }
            return (state.header, state.keys)
        }
    }

    private func replaceHeader(with header: RowHeader, keys: RowKeys) throws {
        let bytes = header.encoded(keys: keys)
        let held = state.withLock { $0.headerBytes }
        try session.withConnection { link in
            try link.transaction {
                try lockHeader(expecting: held, link)
                try link.execute("UPDATE \(unescaped: schema.quoted).header SET bytes = \(bytes.bytea) WHERE id = 1")
            }
        }
        state.withLock { state in
            state.header = header
            state.headerBytes = bytes
        }
        logger.info(
            "changed the vault's key slots", metadata: ["url": "\(path)", "generation": "\(header.generation)"])
    }

    /// Locks the header row and checks that it is still the one this handle holds.
    private func lockHeader(expecting held: [UInt8], _ link: PostgresLink) throws {
        let rows = try link.query("SELECT bytes FROM \(unescaped: schema.quoted).header WHERE id = 1 FOR UPDATE")
            .randomAccessRows
        guard let row = rows.first else { throw VaultError.integrity(.malformedHeader("the header row is missing")) }
        let current = try row[0].bytes()
        guard current == held else {
            let header = try RowHeader.decode(current)
            let generation = state.withLock { $0.header.generation }
            if header.generation > generation { throw VaultError.rekeyedElsewhere }
            throw VaultError.integrity(.headerAuthentication)
        }
    }
}
