public import Logging
public import UPVault

extension PostgresVault: EntrySource {
    package func forEachEntry(of kind: EntryKind, _ body: (String, UnsafeRawBufferPointer) throws -> Void) throws {
        var failure: (any Error)?
        try forEachRow(of: kind) { (name, _, value) throws(VaultError) in
            guard failure == nil else { return }
            do { try body(name, value) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}

/// Moving a vault between a file and PostgreSQL, either way (`upvault migrate FROM TO`). The copy keeps
/// the vault id, the master key and the key slots, so the same passphrase and recovery key open it; it
/// is made only where no vault is, filled in batches, then read back and compared entry by entry. The
/// source is left as it was: remove it yourself once the copy serves.
public enum VaultMigration {
    public struct Report: Sendable, Equatable, Encodable {
        public var from: String
        public var to: String
        public var secrets: Int
        public var apps: Int
        public var grants: Int
        public var journals: Int
        /// Every entry of the copy read back and equal, byte for byte, to the source's.
        public var verified: Bool
    }

    /// Copies the vault `source` (opened with its key) to `destination`, which must hold no vault.
    public static func migrate(
        _ source: any KeyedVaultStore, to destination: StoreLocation,
        environment: [String: String] = Vault.processEnvironment(), logger: Logger = Vault.silentLogger,
        progress: (Int) -> Void = { _ in }
    ) throws -> Report {
        let (header, keys): (RowHeader, RowKeys)
        let reader: any EntrySource
        switch source {
        case let vault as Vault:
            (header, keys) = try RowHeader.adopting(keysOf: vault)
            reader = vault
        case let vault as PostgresVault:
            (header, keys) = try vault.heldHeader()
            reader = vault
        default:
            throw VaultError.io(
                operation: "migrate: the source must be opened with its key", path: source.path, errno: 0)
        }
        let copy: any KeyedVaultStore & EntrySource
        switch destination {
        case .file(let path):
            copy = try Vault.create(at: path, adopting: header, keys: keys, creatingDirectories: true, logger: logger)
        case .postgres(let location):
            copy = try PostgresVault.install(
                header: header, keys: keys, at: location, environment: environment, logger: logger)
        }
        let manifest = try EntryCopy.copy(from: reader, to: copy, progress: progress)
        let reread: any EntrySource
        switch destination {
        case .file(let path): reread = try Vault.open(at: path, key: keys.vaultKey(), logger: logger)
        case .postgres(let location):
            reread = try PostgresVault.open(
                at: location, key: keys.vaultKey(), environment: environment, logger: logger)
        }
        let verified = try EntryCopy.matches(reread, manifest)
        logger.info(
            "migrated vault", metadata: ["from": "\(source.path)", "to": "\(destination)", "verified": "\(verified)"])
        return Report(
            from: source.path, to: destination.description, secrets: manifest.counts[.secret] ?? 0,
            apps: manifest.counts[.app] ?? 0, grants: manifest.counts[.grant] ?? 0,
            journals: manifest.counts[.refreshRun] ?? 0, verified: verified)
    }
}
