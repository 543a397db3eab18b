public import Logging
import PostgresNIO
public import UPVault

/// Looking at a vault in PostgreSQL without its key.
extension PostgresVault {
    /// Throws `vaultNotFound` unless `location`'s schema holds a vault (no key needed, nothing else read).
    public static func checkExists(
        at location: PostgresLocation, environment: [String: String] = Vault.processEnvironment(),
        logger: Logger = Vault.silentLogger
    ) throws {
        let session = try connect(location, environment: environment, logger: logger)
        _ = try session.withConnection { link in
            try readHeader(link, schema: PostgresSchema(name: location.schema), location: location)
        }
    }
}

extension PostgresVault {
    /// Reads the header row of the vault at `location` without unlocking it; `fileSize` is the bytes the
    /// rows store.
    public static func inspect(
        at location: PostgresLocation, environment: [String: String] = Vault.processEnvironment(),
        logger: Logger = Vault.silentLogger
    ) throws -> VaultSummary {
        let session = try connect(location, environment: environment, logger: logger)
        let schema = PostgresSchema(name: location.schema)
        let (bytes, size) = try session.withConnection { link in
            let bytes = try readHeader(link, schema: schema, location: location)
            let rows = try link.query(
                "SELECT coalesce(sum(length(ciphertext) + 56), 0)::bigint FROM \(unescaped: schema.quoted).entries"
            ).randomAccessRows
            return (bytes, try rows.first?[0].decode(Int64.self) ?? 0)
        }
        let header = try RowHeader.decode(bytes)
        return VaultSummary(
            path: location.description, format: "UPVR1", formatVersion: UInt16(PostgresSchema.formatVersion),
            vaultID: Hex.lowercase(header.vaultID), generation: header.generation, createdAt: header.createdAt,
            kdf: header.passphraseKDF, hasRecoveryKey: header.hasRecoveryKey, fileSize: Int(size))
    }
}
