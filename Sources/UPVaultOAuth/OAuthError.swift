public import UPVault

/// What can go wrong in an OAuth flow. Messages name apps, users and endpoints, never a token, a code
/// or a client secret (provider descriptions are cut short and stripped of control characters).
public enum OAuthError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An endpoint or redirect URI is not HTTPS and not a loopback address.
    case insecureEndpoint(String)
    /// A URL that does not parse, or lacks what the flow needs.
    case malformedURL(String)
    /// The redirect URL pasted or received is not for this app's redirect URI.
    case redirectMismatch(expected: String)
    /// The redirect's `state` is missing or differs from the one sent: a forged or stale callback.
    case stateMismatch
    /// The redirect has neither `code` nor `error`.
    case missingAuthorizationCode
    /// The user refused access at the provider (`error=access_denied` in the redirect, or in a device
    /// login's poll).
    case accessDenied
    /// A device login's code expired before the user approved it (`expired_token`, or its time ran out).
    case deviceCodeExpired(app: String)
    /// The provider refused the refresh token (`invalid_grant`); the grant is marked
    /// `needs_reauthorization`: log in again with `upvault login`.
    case invalidGrant(grant: String, reason: String)
    /// The grant cannot be used until the user logs in again (needs re-authorization, or revoked).
    case grantNotActive(grant: String, status: Grant.Status, reason: String?)
    /// The grant has no refresh token (imported without one); recover it or log in again.
    case noRefreshToken(grant: String)
    /// The provider rejected the client credentials (`invalid_client`), with every secret still valid.
    case invalidClient(app: String, reason: String)
    /// The provider returned another OAuth error.
    case providerError(code: String, reason: String, httpStatus: Int)
    /// The provider answered with HTTP 429; `retryAfter` in seconds when it said.
    case rateLimited(retryAfter: Int?)
    /// The provider failed (HTTP 5xx, or a transient OAuth error).
    case providerUnavailable(httpStatus: Int)
    /// The provider could not be reached, or the connection failed or timed out.
    case transport(String)
    /// The response is not what the protocol says (not JSON, a missing field, too large).
    case unexpectedResponse(httpStatus: Int, reason: String)
    /// An API request returned a non-success status (the body is in the error for printing).
    case apiStatus(httpStatus: Int, body: [UInt8])
    /// The app or provider does not offer this operation (no refresh-token endpoint, ...).
    case unsupported(String)
    /// A command-line value that the flow cannot use (an API path, a field).
    case invalidArgument(String)
    /// The provider's metadata could not be fetched, or is not for the issuer asked for, or names an
    /// endpoint that is not HTTPS (RFC 8414).
    case discoveryFailed(issuer: String, reason: String)
    /// An app of this name exists and replacing it was not asked for.
    case appExists(String)
    /// The app still has grants and deleting them too was not asked for.
    case appHasGrants(app: String, count: Int)
    /// The vault refused (wrong entry, I/O, integrity, lock time-out).
    case vault(VaultError)
    /// The agent refused or could not be reached.
    case agent(AgentError)

    /// True for failures that may succeed when tried again later (network, 5xx, 429).
    public var isTransient: Bool {
        switch self {
        case .rateLimited, .providerUnavailable, .transport: true
        default: false
        }
    }

    /// True when the user has to log in again.
    public var needsReauthorization: Bool {
        switch self {
        case .invalidGrant, .grantNotActive, .accessDenied, .deviceCodeExpired: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .insecureEndpoint(let url): "refusing \(url): only HTTPS, or http on a loopback address, is allowed"
        case .malformedURL(let reason): "malformed URL: \(reason)"
        case .redirectMismatch(let expected):
            "the redirect URL is not the app's redirect URI \(expected) (scheme, host, port and path must match)"
        case .stateMismatch: "the redirect's state does not match the login that was started (forged or stale callback)"
        case .missingAuthorizationCode: "the redirect URL carries neither a code nor an error"
        case .accessDenied: "access denied: the user did not grant access"
        case .deviceCodeExpired(let app):
            "the device login for app \(app) expired before it was approved; run 'upvault login --device' again"
        case .invalidGrant(let grant, let reason):
            "grant \(grant) needs re-authorization: the provider refused its refresh token (\(reason)); run 'upvault login'"
        case .grantNotActive(let grant, let status, let reason):
            "grant \(grant) is \(status.rawValue.replacing("_", with: " "))\(reason.map { " (\($0))" } ?? ""); run 'upvault login'"
        case .noRefreshToken(let grant):
            "grant \(grant) has no refresh token; run 'upvault recover-refresh-token' or 'upvault login'"
        case .invalidClient(let app, let reason): "the provider rejected app \(app)'s client credentials (\(reason))"
        case .providerError(let code, let reason, let status): "provider error \(code) (HTTP \(status)): \(reason)"
        case .rateLimited(let after):
            "the provider is rate limiting (HTTP 429\(after.map { ", retry after \($0) s" } ?? ""))"
        case .providerUnavailable(let status): "the provider is unavailable (HTTP \(status))"
        case .transport(let reason): "cannot reach the provider: \(reason)"
        case .unexpectedResponse(let status, let reason):
            "unexpected response from the provider (HTTP \(status)): \(reason)"
        case .apiStatus(let status, _): "the API returned HTTP \(status)"
        case .unsupported(let what): what
        case .invalidArgument(let reason): reason
        case .discoveryFailed(let issuer, let reason): "discovery for issuer \(issuer) failed: \(reason)"
        case .appExists(let name): "app \(name) already exists (use --replace to overwrite it)"
        case .appHasGrants(let app, let count): "app \(app) has \(count) grant(s); use --grants to delete them too"
        case .vault(let error): error.description
        case .agent(let error): error.description
        }
    }

    /// Provider-supplied text, made safe to print: printable ASCII only, at most 200 characters.
    static func sanitized(_ text: String?) -> String {
        guard let text, !text.isEmpty else { return "no description" }
        let printable = text.unicodeScalars.prefix(200).map {
            $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?"
        }
        return String(printable)
    }
}
