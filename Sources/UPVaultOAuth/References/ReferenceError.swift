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
    /// An environment mapping that is not `NAME=REF` with a name of letters, digits and `_`.
    case malformedMapping(String)

    /// True for a reference that is not one of the forms, or a template over the size limit: what the
    /// CLI reports as a usage error (exit 64).
    public var isUsage: Bool {
        switch self {
        case .malformed, .templateTooLarge, .malformedMapping: true
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
        case .malformedMapping(let mapping): "--env takes NAME=REF, got '\(mapping)'"
        }
    }
}
