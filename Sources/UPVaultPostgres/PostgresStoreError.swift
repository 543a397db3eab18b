public import UPVault

/// What can go wrong between upvault and a PostgreSQL server. What the vault finds in the rows
/// (tampering, conflicts, wrong passphrase) is a `VaultError`, as with a vault file. Messages name the
/// server and the vault's schema, never a password, a key, a name or a value.
public enum PostgresStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The vault URL cannot be used; why.
    case invalidURL(String)
    /// The URL carries a password: a command line is visible to every user of the machine. Use a passfile
    /// (`PGPASSFILE`, `~/.pgpass`, mode 0600) or `PGPASSWORD`.
    case passwordInURL
    /// The server could not be reached or refused the connection (authentication, TLS, no such database).
    case connectionFailed(server: String, reason: String)
    /// The connection broke before the server answered. For a write, whether it committed is unknown
    /// until the entry is read again (it was either all applied or not at all).
    case connectionLost(server: String)
    /// The server answered a statement with an error.
    case server(sqlState: String, message: String)
    /// The database holds tables of a vault format this build does not read.
    case unsupportedSchema(version: Int16)
    /// A re-key while a refresh campaign runs: it would change every name hash under the campaign's items.
    case campaignRunning(id: Int64)

    /// The SQLSTATE of a server error; nil for any other.
    public var sqlState: String? {
        if case .server(let state, _) = self { return state }
        return nil
    }

    public var description: String {
        switch self {
        case .invalidURL(let reason): "invalid PostgreSQL vault URL: \(reason)"
        case .passwordInURL:
            "the vault URL holds a password (visible to every user on this machine); put it in a passfile "
                + "(PGPASSFILE or ~/.pgpass, mode 0600) instead"
        case .connectionFailed(let server, let reason): "cannot connect to PostgreSQL at \(server): \(reason)"
        case .connectionLost(let server):
            "the connection to PostgreSQL at \(server) broke before it answered (a write is all or nothing: "
                + "read the entry again to see which)"
        case .server(let state, let message): "PostgreSQL error \(state): \(message)"
        case .campaignRunning(let id):
            "refresh campaign \(id) is running: re-key once it is over ('upvault refresh --status' shows it)"
        case .unsupportedSchema(let version):
            "the vault's tables are of format \(version), which this upvault does not read"
        }
    }
}

extension PostgresStoreError: CategorizedError {
    public var category: FailureCategory {
        switch self {
        case .invalidURL, .passwordInURL: .usage
        case .connectionFailed, .connectionLost: .unavailable
        case .server: .failure
        case .unsupportedSchema: .integrity
        case .campaignRunning: .busy
        }
    }
}
