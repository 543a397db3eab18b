import ArgumentParser
import UPVault

#if canImport(Glibc)
import Glibc
#endif

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The vault file (default: $UPVAULT_PATH, else $XDG_DATA_HOME/upvault/vault.upv).", valueName: "path"))
    var vault: String?

    @Option(name: .long, help: ArgumentHelp("Read the passphrase from this open file descriptor, one line per passphrase.", valueName: "fd"))
    var passphraseFd: Int32?

    @Flag(name: .long, help: "Machine-readable output.")
    var json = false

    var environment: [String: String] { Vault.processEnvironment() }

    var vaultPath: String { VaultLocation.resolve(explicit: vault, environment: environment) }

    var passphraseSource: PassphraseSource {
        PassphraseSource.resolve(descriptor: passphraseFd, environment: environment)
    }

    /// Opens the vault with the passphrase from the configured source, and warns about a torn tail.
    func openVault() throws -> Vault {
        try openVault(with: try readPassphrase())
    }

    /// The agent when one serves this vault, else the vault opened with the passphrase (which exits 75
    /// at once when there is no way to ask for one).
    func openStore() throws -> any VaultStore {
        let path = vaultPath
        guard access(path, F_OK) == 0 else { throw VaultError.vaultNotFound(path: path) }
        if let agent = try AgentClient.connect(vaultPath: path, environment: environment) { return agent }
        return try openVault()
    }
    // (The same choice as `Vault.connect`, which apps use; here the passphrase source and the torn-tail
    // warning are the CLI's.)

    /// The passphrase for the vault, read only after checking that there is a vault to open.
    func readPassphrase() throws -> SecureBytes {
        let path = vaultPath
        guard access(path, F_OK) == 0 else { throw VaultError.vaultNotFound(path: path) }
        return try passphraseSource.read(prompt: "Passphrase for \(path): ")
    }

    func openVault(with passphrase: borrowing SecureBytes) throws -> Vault {
        let vault = try Vault.open(at: vaultPath, passphrase: passphrase)
        try warnAboutTornTail(vault)
        return vault
    }

    func warnAboutTornTail(_ vault: Vault) throws {
        if let torn = try vault.statistics().tornTail {
            Terminal.warning(
                "the vault ends in an interrupted write (\(torn.byteCount) bytes at offset \(torn.offset)); "
                    + "it is ignored and the next change removes it")
        }
    }
}

/// `--kdf interactive|moderate|sensitive|OPS:MIB`.
struct KDFChoice: ExpressibleByArgument {
    var parameters: KDFParameters

    init?(argument: String) {
        switch argument {
        case "interactive": parameters = .interactive
        case "moderate": parameters = .moderate
        case "sensitive": parameters = .sensitive
        default:
            let parts = argument.split(separator: ":")
            guard parts.count == 2, let ops = UInt32(parts[0]), let mebibytes = UInt64(parts[1]) else { return nil }
            let candidate = KDFParameters(opsLimit: ops, memLimit: mebibytes << 20)
            guard KDFLimits.default.admit(candidate) else { return nil }
            parameters = candidate
        }
    }

    static var defaultCompletionKind: CompletionKind { .list(["interactive", "moderate", "sensitive"]) }
}
