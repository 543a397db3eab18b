public import Logging
import PostgresNIO
public import UPVault

#if canImport(Glibc)
import Glibc
#endif

/// Creating and opening a vault in PostgreSQL.
extension PostgresVault {
    /// Creates a new vault's tables in `location`'s schema (made if missing) with a header row protected
    /// by `passphrase`, refusing a schema that already holds a vault.
    public static func create(
        at location: PostgresLocation, passphrase: borrowing SecureBytes, kdf: KDFParameters = .moderate,
        environment: [String: String] = Vault.processEnvironment(), logger: Logger = Vault.silentLogger
    ) throws -> PostgresVault {
        let (header, keys) = try RowHeader.create(passphrase: passphrase, kdf: kdf, createdAt: UInt64(time(nil)))
        return try install(header: header, keys: keys, at: location, environment: environment, logger: logger)
    }

    /// Creates the tables with the given header (a new vault's, or a file's keys moving in).
    package static func install(
        header: RowHeader, keys: RowKeys, at location: PostgresLocation, environment: [String: String],
        logger: Logger
    ) throws -> PostgresVault {
        let session = try connect(location, environment: environment, logger: logger)
        let schema = PostgresSchema(name: location.schema)
        let bytes = header.encoded(keys: keys)
        do {
            try session.withConnection { link in
                try link.transaction {
                    for statement in schema.creation { try link.execute(statement) }
                    try link.execute(
                        "INSERT INTO \(unescaped: schema.quoted).header (id, format, bytes) VALUES (1, \(PostgresSchema.formatVersion), \(bytes.bytea))"
                    )
                }
            }
        } catch let error as PostgresStoreError where error.sqlState == "42P07" {
            // The tables exist (duplicate table): a vault is there already.
            throw VaultError.vaultExists(path: location.description)
        }
        logger.info("created vault", metadata: ["url": "\(location)"])
        return PostgresVault(
            location: location, session: session, state: State(header: header, headerBytes: bytes, keys: keys),
            logger: logger)
    }

    /// Opens the vault at `location` with its passphrase; every key slot's Argon2id parameters are checked
    /// against `limits` before any derivation runs.
    public static func open(
        at location: PostgresLocation, passphrase: borrowing SecureBytes, limits: KDFLimits = .default,
        environment: [String: String] = Vault.processEnvironment(), logger: Logger = Vault.silentLogger
    ) throws -> PostgresVault {
        try open(at: location, environment: environment, logger: logger) { (header, bytes) throws(VaultError) in
            try header.unlock(passphrase: passphrase, limits: limits, bytes: bytes)
        }
    }

    /// Opens the vault at `location` with its recovery key.
    public static func open(
        at location: PostgresLocation, recoveryKey: borrowing SecureBytes,
        environment: [String: String] = Vault.processEnvironment(), logger: Logger = Vault.silentLogger
    ) throws -> PostgresVault {
        try open(at: location, environment: environment, logger: logger) { (header, bytes) throws(VaultError) in
            try header.unlock(recoveryKey: recoveryKey, bytes: bytes)
        }
    }

    /// Opens the vault with its master key (the agent, handed the key by `upvault unlock`).
    public static func open(
        at location: PostgresLocation, key: borrowing VaultKey,
        environment: [String: String] = Vault.processEnvironment(), logger: Logger = Vault.silentLogger
    ) throws -> PostgresVault {
        try open(at: location, environment: environment, logger: logger) { (header, bytes) throws(VaultError) in
            try header.unlock(key: key, bytes: bytes)
        }
    }

    /// Derives the master key from the passphrase and checks it against the header row's MAC (what
    /// `upvault unlock` hands to the agent).
    public static func unlockKey(
        at location: PostgresLocation, passphrase: borrowing SecureBytes, limits: KDFLimits = .default,
        environment: [String: String] = Vault.processEnvironment(), logger: Logger = Vault.silentLogger
    ) throws -> VaultKey {
        try open(at: location, passphrase: passphrase, limits: limits, environment: environment, logger: logger)
            .vaultKey()
    }

    static func open(
        at location: PostgresLocation, environment: [String: String], logger: Logger,
        unlock: (RowHeader, [UInt8]) throws(VaultError) -> RowKeys
    ) throws -> PostgresVault {
        let session = try connect(location, environment: environment, logger: logger)
        let schema = PostgresSchema(name: location.schema)
        let bytes = try session.withConnection { link in try readHeader(link, schema: schema, location: location) }
        let header = try RowHeader.decode(bytes)
        let keys = try unlock(header, bytes)
        logger.debug("opened vault", metadata: ["url": "\(location)"])
        return PostgresVault(
            location: location, session: session, state: State(header: header, headerBytes: bytes, keys: keys),
            logger: logger)
    }

    static func connect(
        _ location: PostgresLocation, environment: [String: String], logger: Logger
    ) throws -> PostgresSession {
        let password = try PostgresCredentials.password(for: location, environment: environment)
        return try PostgresSession(location: location, password: password, logger: logger)
    }

    /// The header row's bytes; `vaultNotFound` when the schema holds no vault.
    static func readHeader(
        _ link: PostgresLink, schema: PostgresSchema, location: PostgresLocation
    ) throws -> [UInt8] {
        let result: PostgresQueryResult
        do {
            result = try link.query("SELECT format, bytes FROM \(unescaped: schema.quoted).header WHERE id = 1")
        } catch {
            // No such table (42P01) or schema (3F000): no vault here.
            if error.sqlState == "42P01" || error.sqlState == "3F000" {
                throw VaultError.vaultNotFound(path: location.description)
            }
            throw error
        }
        guard let row = result.randomAccessRows.first else {
            throw VaultError.integrity(.malformedHeader("the header row is missing"))
        }
        let format = try row[0].decode(Int16.self)
        guard format == PostgresSchema.formatVersion else {
            throw PostgresStoreError.unsupportedSchema(version: format)
        }
        return try row[1].bytes()
    }
}
