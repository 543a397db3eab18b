public import UPVault

/// Text with `{{ upvault:REFERENCE }}` placeholders (spaces inside the braces optional). Other `{{`
/// are left alone, so templates of other tools pass through.
public enum SecretTemplate {
    public static let maximumByteCount = 1 << 20
    static let opening = "{{"
    static let marker = "upvault:"

    /// The template with every reference replaced by its value from `store`, read fresh.
    public static func render(_ template: String, in store: any VaultStore) async throws -> String {
        try await render(template) { try await $0.resolve(in: store) }
    }

    /// Writes a rendered template to `path`: mode 0600, atomically (a temporary beside it, fsync,
    /// rename, directory fsync), so no reader ever sees a partial file or one readable by others.
    public static func write(_ rendered: String, to path: String) throws {
        try FileSystem.writePrivateFile(Array(rendered.utf8), to: path)
    }

    /// The template at `path` (at most `maximumByteCount` bytes), its references checked, so that a
    /// malformed one fails before anything is read from the vault.
    public static func read(_ path: String) throws -> String {
        let template: String
        do {
            template = String(decoding: try FileSystem.readFile(path, maximum: maximumByteCount), as: UTF8.self)
        } catch .fileTooLarge {
            throw ReferenceError.templateTooLarge
        }
        _ = try references(in: template)
        return template
    }

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
