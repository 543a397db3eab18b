import ArgumentParser
import Logging
import UPVault
import UPVaultPostgres

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The vault: a file, or postgres://[USER@][HOST][:PORT]/[DATABASE][?host=SOCKETDIR&schema=NAME&sslmode=MODE] "
                + "(default: $UPVAULT_PATH, else $XDG_DATA_HOME/upvault/vault.upv).", valueName: "path|url"))
    var vault: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Read the passphrase from this open file descriptor, one line per passphrase.", valueName: "fd"))
    var passphraseFd: Int32?

    @Flag(name: .long, help: "Machine-readable output.")
    var json = false

    @Flag(name: .long, help: "Log what the libraries do to stderr (also UPVAULT_LOG=debug|trace).")
    var verbose = false

    var environment: [String: String] { Vault.processEnvironment() }

    var vaultPath: String { VaultLocation.resolve(explicit: vault, environment: environment) }

    var passphraseSource: PassphraseSource {
        PassphraseSource.resolve(descriptor: passphraseFd, environment: environment)
    }

    /// Where the libraries log: nowhere unless asked for (`--verbose`, `UPVAULT_LOG`).
    var logger: Logger { Diagnostics.logger(verbose: verbose, environment: environment) }

    /// Where the vault is: a file, or a PostgreSQL URL (`StoreLocation`).
    func location() throws -> StoreLocation {
        try StoreLocation.resolve(explicit: vault, environment: environment)
    }

    /// Opens the vault with the passphrase from the configured source, and warns about a torn tail.
    func openVault() throws -> any KeyedVaultStore {
        let store = try location().open(environment: environment, logger: logger) {
            try passphraseSource.read(prompt: "Passphrase for \(vaultPath): ")
        }
        try warnAboutTail(of: store)
        return store
    }

    /// The agent when one serves this vault, else the vault opened with the passphrase (which exits 75
    /// at once when there is no way to ask for one): `StoreLocation.connect`, with the torn-tail warning.
    func openStore() throws -> any VaultStore {
        let store = try location().connect(environment: environment, logger: logger) {
            try passphraseSource.read(prompt: "Passphrase for \(vaultPath): ")
        }
        try warnAboutTail(of: store)
        return store
    }

    /// The passphrase for the vault, read only after checking that there is a vault to open.
    func readPassphrase(prompt: String = "Passphrase for ") throws -> SecureBytes {
        let path = vaultPath
        switch try location() {
        case .file: guard Vault.exists(at: path) else { throw VaultError.vaultNotFound(path: path) }
        case .postgres(let location): try PostgresVault.checkExists(at: location, environment: environment)
        }
        return try passphraseSource.read(prompt: "\(prompt)\(path): ")
    }

    func openVault(with passphrase: borrowing SecureBytes) throws -> any KeyedVaultStore {
        let store: any KeyedVaultStore
        switch try location() {
        case .file(let path): store = try Vault.open(at: path, passphrase: passphrase, logger: logger)
        case .postgres(let location):
            store = try PostgresVault.open(
                at: location, passphrase: passphrase, environment: environment, logger: logger)
        }
        try warnAboutTail(of: store)
        return store
    }

    /// The vault's key from the passphrase, checked against its header only (`unlock`: the agent reads
    /// the vault).
    func unlockKey() throws -> VaultKey {
        switch try location() {
        case .file(let path): try Vault.unlockKey(at: path, passphrase: try readPassphrase(), logger: logger)
        case .postgres(let location):
            try PostgresVault.unlockKey(
                at: location, passphrase: try readPassphrase(), environment: environment, logger: logger)
        }
    }

    func warnAboutTail(of store: any VaultStore) throws {
        if let tail = try store.tail() { warnAbout(tail) }
    }

    func warnAbout(_ tail: TornTail) {
        Terminal.warning(
            "the vault does not end in a seal: \(tail); the complete batches before it are used "
                + "('upvault fsck' explains, 'upvault fsck --repair' removes it)")
    }
}

/// `--app` and `--user`, with the defaults a user expects (`GrantSelector`).
struct GrantOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The app (default: $UPVAULT_APP, else the only app in the vault).", valueName: "name"))
    var app: String?

    @Option(
        help: ArgumentHelp("The user's label (default: $UPVAULT_USER, else the app's only grant).", valueName: "label"))
    var user: String?

    func selector(_ environment: [String: String]) -> GrantSelector {
        GrantSelector(app: app, user: user, environment: environment)
    }
}
