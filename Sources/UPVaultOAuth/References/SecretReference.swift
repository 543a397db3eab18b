public import UPVault

/// A reference to one value in the vault, as `exec --env` and `inject` templates write it:
/// `app/NAME/client_id`, `app/NAME/client_secret`, `grant/APP/USER/access_token`,
/// `grant/APP/USER/refresh_token`, `secret/NAME`.
public enum SecretReference: Sendable, Equatable, CustomStringConvertible {
    case clientID(app: String)
    case clientSecret(app: String)
    case accessToken(app: String, user: String)
    case refreshToken(app: String, user: String)
    case secret(name: String)

    public init(parsing text: String) throws(ReferenceError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !parts.contains(where: \.isEmpty) else { throw .malformed(text) }
        switch (parts.first, parts.count, parts.last) {
        case ("app", 3, "client_id"): self = .clientID(app: parts[1])
        case ("app", 3, "client_secret"): self = .clientSecret(app: parts[1])
        case ("grant", 4, "access_token"): self = .accessToken(app: parts[1], user: parts[2])
        case ("grant", 4, "refresh_token"): self = .refreshToken(app: parts[1], user: parts[2])
        case ("secret", 2, _): self = .secret(name: parts[1])
        default: throw .malformed(text)
        }
    }

    public var description: String {
        switch self {
        case .clientID(let app): "app/\(app)/client_id"
        case .clientSecret(let app): "app/\(app)/client_secret"
        case .accessToken(let app, let user): "grant/\(app)/\(user)/access_token"
        case .refreshToken(let app, let user): "grant/\(app)/\(user)/refresh_token"
        case .secret(let name): "secret/\(name)"
        }
    }

    /// The value, read fresh: an access token is refreshed first when it expires within a few minutes
    /// (through `accessToken`, which the caller routes to the agent or the OAuth flows).
    public func resolve(
        in store: any VaultStore, accessToken: (_ app: String, _ user: String) async throws -> String
    ) async throws -> String {
        switch self {
        case .clientID(let app):
            guard let entry = try store.entry(App.self, named: app) else { throw ReferenceError.notFound(description) }
            return entry.clientID
        case .clientSecret(let app):
            guard let secret = try store.entry(App.self, named: app)?.currentSecret?.value else {
                throw ReferenceError.notFound(description)
            }
            return secret
        case .accessToken(let app, let user):
            return try await accessToken(app, user)
        case .refreshToken(let app, let user):
            guard let token = try store.entry(Grant.self, named: "\(app)/\(user)")?.refreshToken else {
                throw ReferenceError.notFound(description)
            }
            return token
        case .secret(let name):
            guard let value = try store.secret(named: name) else { throw ReferenceError.notFound(description) }
            guard let text = value.utf8String() else { throw ReferenceError.notText(description) }
            return text
        }
    }

    /// The value, read fresh, with access tokens from `OAuthClient.accessToken(from:)` (the agent
    /// refreshes in its own process; with the file, a client is started for the call).
    public func resolve(in store: any VaultStore) async throws -> String {
        try await resolve(in: store) { app, user in
            try await OAuthClient.accessToken(from: store, selection: GrantSelector(app: app, user: user))
        }
    }
}
