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
    ///
    /// The file is streamed twice, in bounded memory whatever its size: first every item is checked
    /// (JSON, the grant rules, duplicates, existing grants), so a bad file imports nothing; then the
    /// grants are written in durable batches of `batchSize`, the next batch parsed on another thread while
    /// one is written. An item is checked again as it is written (a file changed between the passes fails
    /// there, with the batches before it imported).
    @discardableResult
    public static func importFile(
        _ path: String, into store: any VaultStore, app name: String, replace: Bool = false, now: Int64
    ) throws -> Int {
        guard let app = try store.entry(App.self, named: name) else {
            throw VaultError.entryNotFound(EntryKey(.app, name))
        }
        let existing = replace ? [] : Set(try store.grantNames(of: name))
        var seen = Set<String>()
        let count = try streamGrants(path, app: app, now: now) { index, grant throws(GrantImportError) in
            if existing.contains(grant.entryName) { throw .grantExists(grant.entryName) }
            guard seen.insert(grant.user).inserted else {
                throw .invalidItem(index: index, user: grant.user, reason: "the user appears twice")
            }
        }
        seen = []
        // The second pass parses the next batch while this one is sealed and written.
        var written = 0
        try BatchPipeline.run(depth: 2) { push in
            var batch: [Grant] = []
            batch.reserveCapacity(min(count, batchSize))
            try streamGrants(path, app: app, now: now) { (_, grant) throws(GrantImportError) in
                batch.append(grant)
            } afterEach: {
                if batch.count == batchSize {
                    try push(batch)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            if !batch.isEmpty { try push(batch) }
        } consume: { (batch: [Grant]) in
            try store.write { transaction in
                for grant in batch { try transaction.put(grant) }
            }
            written += batch.count
        }
        return written
    }

    /// Streams the file's items as checked grants to `body`; `afterEach` runs after each item (outside
    /// the stream's error type, for the vault's writes).
    @discardableResult
    static func streamGrants(
        _ path: String, app: App, now: Int64, _ body: (Int, Grant) throws(GrantImportError) -> Void,
        afterEach: () throws -> Void = {}
    ) throws -> Int {
        var deferred: (any Error)?
        let fingerprint = app.currentSecretFingerprint  // once, not per item
        do {
            return try JSONArrayStream.forEachElement(inFile: path) { (index, bytes) throws(GrantImportError) in
                let item = try Self.item(bytes, index: index, path: path)
                try body(index, try grant(from: item, index: index, app: app, fingerprint: fingerprint, now: now))
                do { try afterEach() } catch {
                    deferred = error
                    throw .unreadable(path: path, reason: "stopped")
                }
            }
        } catch .element(let error) {
            if let deferred { throw deferred }
            throw error
        } catch .stream(.unreadable(let reason)) {
            throw GrantImportError.unreadable(path: path, reason: reason)
        } catch .stream(.malformed), .stream(.elementTooLarge) {
            throw GrantImportError.malformed(path: path)
        }
    }

    /// One item: an object with `user`, `access_token` (strings), `refresh_token` (string or null) and
    /// `expires_in` (whole seconds or null); other fields are ignored, a field twice is malformed.
    static func item(_ bytes: UnsafeRawBufferPointer, index: Int, path: String) throws(GrantImportError) -> Item {
        var scanner = JSONScanner(bytes)
        var user: String?
        var accessToken: String?
        var refreshToken: String??
        var expiresIn: Int64??
        var wrong: String?
        do {
            try scanner.readObject { key, value in
                switch (key, value) {
                case ("user", .string(let text)) where user == nil: user = text
                case ("access_token", .string(let text)) where accessToken == nil: accessToken = text
                case ("refresh_token", .string(let text)) where refreshToken == nil: refreshToken = .some(text)
                case ("refresh_token", .null) where refreshToken == nil: refreshToken = .some(nil)
                case ("expires_in", .integer(let number)) where expiresIn == nil: expiresIn = .some(number)
                case ("expires_in", .null) where expiresIn == nil: expiresIn = .some(nil)
                case ("user", _), ("access_token", _), ("refresh_token", _), ("expires_in", _):
                    wrong = wrong ?? key
                default: break
                }
            }
        } catch {
            throw .malformed(path: path)
        }
        if let wrong {
            throw .invalidItem(index: index, user: user, reason: "\(wrong) has the wrong type or appears twice")
        }
        guard let user, let accessToken else {
            throw .invalidItem(index: index, user: user, reason: "user and access_token are required")
        }
        return Item(
            user: user, accessToken: accessToken, refreshToken: refreshToken ?? nil, expiresIn: expiresIn ?? nil)
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
        let fingerprint = app.currentSecretFingerprint
        let grants = try items.enumerated().map { index, item throws -> Grant in
            let grant = try grant(from: item, index: index, app: app, fingerprint: fingerprint, now: now)
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
    static func grant(
        from item: Item, index: Int, app: App, fingerprint: String?, now: Int64
    ) throws(GrantImportError) -> Grant {
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
            issuedAt: now, expiresAt: item.expiresIn.map { now + $0 }, secretFingerprint: fingerprint)
    }

    static func reason(_ error: VaultError) -> String {
        switch error {
        case .io(_, _, let code): Errno.describe(code)
        case .vaultNotFound: "no such file"
        default: error.description
        }
    }
}
