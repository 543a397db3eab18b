public import UPVault

#if canImport(Glibc)
import Glibc
#endif

/// The environment `upvault exec` gives a program: fresh values from the vault under the names asked
/// for, and none of upvault's own settings (`UPVAULT_*`: the passphrase files, the vault, the agent's
/// socket), so the program and its descendants learn only what was mapped for them.
public enum ExecEnvironment {
    /// Variables that name the files holding the vault's passphrases: never passed to any child, the
    /// agent included.
    public static let passphraseFiles: Set<String> = ["UPVAULT_PASSPHRASE_FILE", "UPVAULT_NEW_PASSPHRASE_FILE"]

    /// Whether `exec` withholds a variable of the caller's environment from the program.
    public static func isWithheld(_ name: String) -> Bool { name.hasPrefix("UPVAULT_") }

    /// `NAME=REF`: a variable name of letters, digits and `_`, and a reference (`SecretReference`).
    public static func mapping(_ text: String) throws(ReferenceError) -> (name: String, reference: SecretReference) {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex,
            text[..<equals].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
        else { throw .malformedMapping(text) }
        return (String(text[..<equals]), try SecretReference(parsing: String(text[text.index(after: equals)...])))
    }

    /// `base` (minus `withheld`) with each mapping set to its value, read fresh. With `defaults`,
    /// `UP_ACCESS_TOKEN` and `UP_CLIENT_ID` of the selected grant are set too; with `kieferConfig`,
    /// that variable holds the path of a kiefer config for the grant on a sealed in-memory file that
    /// exists only for this process and the program it executes (`/dev/fd/N`). When only mappings are
    /// asked for, a selection that names no grant is not an error.
    public static func build(
        for store: any VaultStore, base: [String: String], selection: GrantSelector,
        mappings: [(name: String, reference: SecretReference)], defaults: Bool = true, kieferConfig: String? = nil
    ) async throws -> [String: String] {
        var variables = mappings
        var grant: (app: String, user: String)?
        if defaults || kieferConfig != nil {
            do {
                grant = try selection.grant(in: store)
            } catch  where !mappings.isEmpty && kieferConfig == nil {
                grant = nil
            }
        }
        if let grant, defaults {
            variables.insert(("UP_CLIENT_ID", .clientID(app: grant.app)), at: 0)
            variables.insert(("UP_ACCESS_TOKEN", .accessToken(app: grant.app, user: grant.user)), at: 0)
        }
        var environment = base.filter { !isWithheld($0.key) }
        for (name, reference) in variables {
            environment[name] = try await reference.resolve(in: store)
        }
        if let kieferConfig, let grant {
            environment[kieferConfig] = try await kieferConfigPath(for: store, app: grant.app, user: grant.user)
        }
        return environment
    }

    /// A sealed memfd holding the kiefer config for a grant, with a fresh access token.
    static func kieferConfigPath(for store: any VaultStore, app: String, user: String) async throws -> String {
        guard let entry = try store.entry(App.self, named: app) else {
            throw VaultError.entryNotFound(EntryKey(.app, app))
        }
        var grant: Grant?
        if try store.contains(EntryKey(.grant, "\(app)/\(user)")) {
            let token = try await OAuthClient.accessToken(from: store, selection: GrantSelector(app: app, user: user))
            // Read after the refresh: the refresh token may have rotated with it.
            grant = try store.entry(Grant.self, named: "\(app)/\(user)")
            grant?.accessToken = token
        }
        let bytes = KieferMigration.exportConfig(app: entry, grant: grant).encoded()
        return try FileSystem.sealedMemoryFile(named: "upvault-kiefer-config", holding: bytes)
    }

    /// Replaces this process with `command` run with exactly `environment`. Returns only when the
    /// program could not be run, with why.
    public static func exec(_ command: [String], environment: [String: String]) -> ExecFailure {
        ExecFailure(command: command.first ?? "", errno: ProcessImage.replace(with: command, environment: environment))
    }
}

/// Why `exec` could not run a program.
public struct ExecFailure: Error, Sendable, CustomStringConvertible {
    public var command: String
    public var errno: Int32

    /// The program was not found (a shell's exit 127; otherwise it could not be run: 126).
    public var isNotFound: Bool { errno == ENOENT }

    public var description: String { "cannot run \(command): \(Errno.describe(errno))" }
}
