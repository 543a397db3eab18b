public import Logging
public import UPVault

/// Where a vault lives, as a user names it (`--vault`, `UPVAULT_PATH`): a file path, or a PostgreSQL URL
/// (`postgres://...`, see `PostgresLocation`). What the CLI does with a vault, an app does through this:
/// create, open with a passphrase, a recovery key or the master key, and connect (the agent first).
public enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    case file(String)
    case postgres(PostgresLocation)

    /// `explicit` (`--vault`), else `UPVAULT_PATH`, else the default file (`VaultLocation`); a
    /// `postgres://` or `postgresql://` URL names a database vault.
    public static func resolve(
        explicit: String?, environment: [String: String]
    ) throws(PostgresStoreError) -> StoreLocation {
        try StoreLocation(VaultLocation.resolve(explicit: explicit, environment: environment), environment: environment)
    }

    public init(_ text: String, environment: [String: String]) throws(PostgresStoreError) {
        if PostgresLocation.isURL(text) {
            self = .postgres(try PostgresLocation(url: text, environment: environment))
        } else {
            self = .file(text)
        }
    }

    /// The path, or the URL with everything filled in and no password: what messages show, and what
    /// the agent is keyed by.
    public var description: String {
        switch self {
        case .file(let path): path
        case .postgres(let location): location.description
        }
    }

    /// Creates a new vault here (a file's missing directories made 0700), refusing to replace one.
    public func create(
        passphrase: borrowing SecureBytes, kdf: KDFParameters, environment: [String: String],
        logger: Logger = Vault.silentLogger
    ) throws -> any KeyedVaultStore {
        switch self {
        case .file(let path):
            if Vault.exists(at: path) { throw VaultError.vaultExists(path: path) }
            return try Vault.create(
                at: path, passphrase: passphrase, kdf: kdf, creatingDirectories: true, logger: logger)
        case .postgres(let location):
            return try PostgresVault.create(
                at: location, passphrase: passphrase, kdf: kdf, environment: environment, logger: logger)
        }
    }

    /// Opens the vault with its passphrase. For a file, `passphrase` is asked only once the file is
    /// known to exist; a database is asked first whether it holds a vault.
    public func open(
        environment: [String: String], logger: Logger = Vault.silentLogger, limits: KDFLimits = .default,
        passphrase: () throws -> SecureBytes
    ) throws -> any KeyedVaultStore {
        switch self {
        case .file(let path):
            guard Vault.exists(at: path) else { throw VaultError.vaultNotFound(path: path) }
            return try Vault.open(at: path, passphrase: try passphrase(), limits: limits, logger: logger)
        case .postgres(let location):
            try PostgresVault.checkExists(at: location, environment: environment, logger: logger)
            return try PostgresVault.open(
                at: location, passphrase: try passphrase(), limits: limits, environment: environment, logger: logger)
        }
    }

    /// Opens the vault with its recovery key.
    public func open(
        recoveryKey: borrowing SecureBytes, environment: [String: String], logger: Logger = Vault.silentLogger
    ) throws -> any KeyedVaultStore {
        switch self {
        case .file(let path): try Vault.open(at: path, recoveryKey: recoveryKey, logger: logger)
        case .postgres(let location):
            try PostgresVault.open(at: location, recoveryKey: recoveryKey, environment: environment, logger: logger)
        }
    }

    /// Opens the vault with its master key (the agent, handed the key by `upvault unlock`).
    public func open(
        key: borrowing VaultKey, environment: [String: String], logger: Logger = Vault.silentLogger
    ) throws -> any KeyedVaultStore {
        switch self {
        case .file(let path): try Vault.open(at: path, key: key, logger: logger)
        case .postgres(let location):
            try PostgresVault.open(at: location, key: key, environment: environment, logger: logger)
        }
    }

    /// The handle an app should use: the agent's when `upvault unlock` started one for this vault, else
    /// the vault opened with the passphrase `passphrase` returns (asked only then).
    public func connect(
        environment: [String: String], logger: Logger = Vault.silentLogger, passphrase: () throws -> SecureBytes
    ) throws -> any VaultStore {
        switch self {
        case .file(let path):
            return try Vault.connect(at: path, environment: environment, logger: logger, passphrase: passphrase)
        case .postgres:
            if let agent = try AgentClient.connect(vaultPath: description, environment: environment) { return agent }
            return try open(environment: environment, logger: logger, passphrase: passphrase)
        }
    }
}

extension StoreLocation {
    /// What `upvault status` shows (no passphrase): the header, and the agent serving the vault.
    public func status(environment: [String: String], logger: Logger = Vault.silentLogger) throws -> VaultStatus {
        switch self {
        case .file(let path): return try VaultStatus.of(vaultAt: path, environment: environment)
        case .postgres(let location):
            let summary = try PostgresVault.inspect(at: location, environment: environment, logger: logger)
            return try VaultStatus.of(summary, environment: environment)
        }
    }
}
