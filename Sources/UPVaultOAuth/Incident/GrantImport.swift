import FoundationEssentials
public import UPVault

/// What can go wrong importing grants. Messages name the file and the item, never a token.
public enum GrantImportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be read (missing, not a regular file, a symbolic link, too large).
    case unreadable(path: String, reason: String)
    /// The file is not a JSON array of grant objects.
    case malformed(path: String)
    /// One item is not acceptable; nothing was imported.
    case invalidItem(index: Int, user: String?, reason: String)
    /// The grant exists and replacing it was not asked for; nothing was imported.
    case grantExists(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
        case .malformed(let path): "\(path) is not a JSON array of {user, access_token, refresh_token, expires_in}"
        case .invalidItem(let index, let user, let reason):
            "item \(index)\(user.map { " (user \($0))" } ?? ""): \(reason); nothing was imported"
        case .grantExists(let name): "grant \(name) already exists (use --replace)"
        }
    }

    /// True when the caller can settle it by asking differently (`--replace`).
    public var isUsage: Bool {
        if case .grantExists = self { return true }
        return false
    }
}

/// Importing users' grants that an app kept elsewhere (a database export): a JSON array of
/// `{"user", "access_token", "refresh_token", "expires_in"}`. Every item is checked before anything is
/// written (a bad file imports nothing); the grants are then written in durable batches.
public enum GrantImport {
    /// One grant as the file holds it.
    public struct Item: Codable, Sendable, Equatable {
        public var user: String
        public var accessToken: String
        public var refreshToken: String?
        /// Seconds from the import; nil when unknown.
        public var expiresIn: Int64?

        public init(user: String, accessToken: String, refreshToken: String? = nil, expiresIn: Int64? = nil) {
            self.user = user
            self.accessToken = accessToken
            self.refreshToken = refreshToken
            self.expiresIn = expiresIn
        }

        enum CodingKeys: String, CodingKey {
            case user
            case accessToken = "access_token"
            case refreshToken = "refresh_token"
            case expiresIn = "expires_in"
        }
    }

    /// The largest file read (1 GiB).
    public static let maximumFileSize = 1 << 30
    /// Grants per durable batch.
    public static let batchSize = 5000
    /// The longest `expires_in` accepted: ten years.
    public static let maximumExpiresIn: Int64 = 10 * 366 * 86_400

    /// Reads `path` and imports its grants for `app`; returns how many were imported.
    @discardableResult
    public static func importFile(
        _ path: String, into store: any VaultStore, app: String, replace: Bool = false, now: Int64
    ) throws -> Int {
        var bytes: [UInt8]
        do {
            bytes = try FileSystem.readFile(path, maximum: maximumFileSize)
        } catch {
            throw GrantImportError.unreadable(path: path, reason: Self.reason(error))
        }
        defer { Sodium.wipe(&bytes) }
        let items: [Item]
        do {
            items = try JSONDecoder().decode([Item].self, from: Data(bytes))
        } catch {
            throw GrantImportError.malformed(path: path)
        }
        return try importItems(items, into: store, app: app, replace: replace, now: now)
    }

    /// Imports `items` for `app` (which must exist); returns how many were imported.
    @discardableResult
    public static func importItems(
        _ items: [Item], into store: any VaultStore, app name: String, replace: Bool = false, now: Int64
    ) throws -> Int {
        guard let app = try store.entry(App.self, named: name) else {
            throw VaultError.entryNotFound(EntryKey(.app, name))
        }
        let existing = replace ? [] : Set(try store.grantNames(of: name))
        var seen = Set<String>()
        let grants = try items.enumerated().map { index, item throws -> Grant in
            let grant = try grant(from: item, index: index, app: app, now: now)
            if existing.contains(grant.entryName) { throw GrantImportError.grantExists(grant.entryName) }
            guard seen.insert(grant.entryName).inserted else {
                throw GrantImportError.invalidItem(index: index, user: item.user, reason: "the user appears twice")
            }
            return grant
        }
        for start in stride(from: 0, to: grants.count, by: batchSize) {
            try store.write { batch in
                for grant in grants[start..<min(grants.count, start + batchSize)] { try batch.put(grant) }
            }
        }
        return grants.count
    }

    /// The grant an item describes, checked as a token answer is: tokens of printable characters,
    /// a name the vault accepts, an expiry that fits.
    static func grant(from item: Item, index: Int, app: App, now: Int64) throws(GrantImportError) -> Grant {
        func invalid(_ reason: String) -> GrantImportError { .invalidItem(index: index, user: nil, reason: reason) }
        do {
            try EntryName.validate(EntryKey(.grant, "\(app.name)/\(item.user)"))
        } catch {
            throw invalid("the user label is not a valid name (\(error))")
        }
        do {
            try TokenResponse.checkToken(item.accessToken, field: "access_token", status: 0)
            if let refresh = item.refreshToken {
                try TokenResponse.checkToken(refresh, field: "refresh_token", status: 0)
            }
        } catch {
            throw .invalidItem(
                index: index, user: item.user,
                reason: "a token is empty, too long, or holds spaces or control characters")
        }
        if let expiresIn = item.expiresIn, !(0...maximumExpiresIn).contains(expiresIn) {
            throw .invalidItem(
                index: index, user: item.user, reason: "expires_in must be 0 to \(maximumExpiresIn) seconds")
        }
        return Grant(
            app: app.name, user: item.user, accessToken: item.accessToken, refreshToken: item.refreshToken,
            issuedAt: now, expiresAt: item.expiresIn.map { now + $0 }, secretFingerprint: app.currentSecretFingerprint)
    }

    static func reason(_ error: VaultError) -> String {
        switch error {
        case .io(_, _, let code): Errno.describe(code)
        case .vaultNotFound: "no such file"
        default: error.description
        }
    }
}
