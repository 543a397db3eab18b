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
        case .severalApps(let names):
            "the vault holds several apps (\(names.joined(separator: ", "))); choose one with --app"
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

/// The app and user a command means: named explicitly, else `$UPVAULT_APP` / `$UPVAULT_USER` (when not
/// empty), else the vault's only app and that app's only grant.
public struct GrantSelector: Sendable, Equatable {
    /// What was named (explicitly or in the environment); nil where the vault must decide.
    public var app: String?
    public var user: String?

    public init(app: String? = nil, user: String? = nil, environment: [String: String] = [:]) {
        self.app = app ?? environment["UPVAULT_APP"].flatMap { $0.isEmpty ? nil : $0 }
        self.user = user ?? environment["UPVAULT_USER"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The app: as named, else the vault's only one.
    public func appName(in store: any VaultStore) throws -> String {
        try app ?? store.onlyApp()
    }

    /// The user label of an existing grant of `app`: as named, else the app's only grant's.
    public func userLabel(app: String, in store: any VaultStore) throws -> String {
        try user ?? store.onlyUser(of: app)
    }

    /// Both, as `appName` and `userLabel` choose them.
    public func grant(in store: any VaultStore) throws -> (app: String, user: String) {
        let app = try appName(in: store)
        return (app, try userLabel(app: app, in: store))
    }
}
