public import UPVault

/// What can go wrong with a `{{ upvault:... }}` reference or template. Messages quote references,
/// never values.
public enum ReferenceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not one of the reference forms.
    case malformed(String)
    /// The entry the reference names does not exist.
    case notFound(String)
    /// A secret that is not UTF-8 text cannot go into an environment variable or a text template.
    case notText(String)
    /// `{{ upvault:` without its closing `}}`.
    case unterminated(line: Int)
    /// The template is larger than 1 MiB.
    case templateTooLarge

    /// True for a reference that is not one of the forms, or a template over the size limit: what the
    /// CLI reports as a usage error (exit 64).
    public var isUsage: Bool {
        switch self {
        case .malformed, .templateTooLarge: true
        case .unterminated, .notFound, .notText: false
        }
    }

    public var description: String {
        switch self {
        case .malformed(let reference):
            "malformed reference '\(reference)' (app/NAME/client_id|client_secret, grant/APP/USER/access_token|refresh_token, secret/NAME)"
        case .notFound(let reference): "nothing in the vault for '\(reference)'"
        case .notText(let reference): "'\(reference)' is not UTF-8 text"
        case .unterminated(let line): "line \(line): '{{ upvault:' without a closing '}}'"
        case .templateTooLarge: "the template is larger than 1 MiB"
        }
    }
}

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
}

/// Text with `{{ upvault:REFERENCE }}` placeholders (spaces inside the braces optional). Other `{{`
/// are left alone, so templates of other tools pass through.
public enum SecretTemplate {
    public static let maximumByteCount = 1 << 20
    static let opening = "{{"
    static let marker = "upvault:"

    /// The references in `template`, in order of appearance (for checking before anything is read).
    public static func references(in template: String) throws(ReferenceError) -> [SecretReference] {
        try pieces(of: template).compactMap { piece in
            if case .reference(let reference) = piece { return reference }
            return nil
        }
    }

    /// The template with every reference replaced by its value; nothing is returned unless every
    /// reference resolved.
    public static func render(
        _ template: String, resolve: (SecretReference) async throws -> String
    ) async throws -> String {
        var output = ""
        var cache: [String: String] = [:]
        for piece in try pieces(of: template) {
            switch piece {
            case .text(let text):
                output += text
            case .reference(let reference):
                if let known = cache[reference.description] {
                    output += known
                } else {
                    let value = try await resolve(reference)
                    cache[reference.description] = value
                    output += value
                }
            }
        }
        return output
    }

    enum Piece {
        case text(Substring)
        case reference(SecretReference)
    }

    static func pieces(of template: String) throws(ReferenceError) -> [Piece] {
        guard template.utf8.count <= maximumByteCount else { throw .templateTooLarge }
        var pieces: [Piece] = []
        var rest = template[...]
        while let open = rest.firstRange(of: opening) {
            let afterOpen = rest[open.upperBound...]
            let inner = afterOpen.drop { $0 == " " }
            guard inner.hasPrefix(marker) else {
                pieces.append(.text(rest[..<open.upperBound]))
                rest = afterOpen
                continue
            }
            guard let close = inner.firstRange(of: "}}") else {
                let line = template[..<open.lowerBound].reduce(1) { $1 == "\n" ? $0 + 1 : $0 }
                throw .unterminated(line: line)
            }
            let body = inner[inner.index(inner.startIndex, offsetBy: marker.count)..<close.lowerBound]
            let trimmed = String(body.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
            pieces.append(.text(rest[..<open.lowerBound]))
            pieces.append(.reference(try SecretReference(parsing: trimmed)))
            rest = inner[close.upperBound...]
        }
        pieces.append(.text(rest))
        return pieces
    }
}
