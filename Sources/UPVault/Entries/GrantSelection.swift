/// Choosing an app or a grant when the caller named none: the only one there is, or an error that
/// says what to choose from.
public enum SelectionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The vault holds no app.
    case noApp
    /// Several apps: one must be named.
    case severalApps([String])
    /// The app has no grant.
    case noGrant(app: String)
    /// The app has grants for several users: one must be named.
    case severalGrants(app: String, users: [String])

    public var description: String {
        switch self {
        case .noApp: "the vault holds no app; add one with 'upvault app add' or 'upvault import kiefer'"
        case .severalApps(let names): "the vault holds several apps (\(names.joined(separator: ", "))); choose one with --app"
        case .noGrant(let app): "app \(app) has no grant; log in with 'upvault login --app \(app)'"
        case .severalGrants(let app, let users):
            "app \(app) has grants for several users (\(users.joined(separator: ", "))); choose one with --user"
        }
    }

    /// True when naming one would settle it (a usage error), false when there is nothing to choose.
    public var isAmbiguity: Bool {
        switch self {
        case .severalApps, .severalGrants: true
        case .noApp, .noGrant: false
        }
    }
}

extension VaultStore {
    /// The vault's only app.
    public func onlyApp() throws -> String {
        let names = try names(of: .app)
        switch names.count {
        case 1: return names[0]
        case 0: throw SelectionError.noApp
        default: throw SelectionError.severalApps(names)
        }
    }

    /// The user label of the app's only grant.
    public func onlyUser(of app: String) throws -> String {
        let users = try names(of: .grant).filter { $0.hasPrefix(app + "/") }.map { String($0.dropFirst(app.count + 1)) }
        switch users.count {
        case 1: return users[0]
        case 0: throw SelectionError.noGrant(app: app)
        default: throw SelectionError.severalGrants(app: app, users: users)
        }
    }
}
