public import Logging

#if canImport(Glibc)
import Glibc
#endif

extension Vault {
    /// The handle an app should use: the agent's when `upvault unlock` started one for this vault,
    /// otherwise the vault opened with the passphrase that `passphrase` returns (called only then).
    /// Both answer the same `VaultStore` API.
    public static func connect(
        at path: String, environment: [String: String] = Vault.processEnvironment(),
        logger: Logger = Vault.silentLogger, passphrase: () throws -> SecureBytes
    ) throws -> any VaultStore {
        guard exists(at: path) else { throw VaultError.vaultNotFound(path: path) }
        if let agent = try AgentClient.connect(vaultPath: path, environment: environment) { return agent }
        return try Vault.open(at: path, passphrase: try passphrase(), logger: logger)
    }

    /// Whether there is a file (a vault, or something in the way of one) at `path`.
    public static func exists(at path: String) -> Bool {
        FileSystem.exists(path)
    }

    /// This process's environment, as a dictionary.
    public static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}
