import FoundationEssentials
import Logging
public import UPVault

/// An authorization server's metadata (RFC 8414, and OpenID Connect Discovery 1.0), checked: its
/// `issuer` is exactly the URL it was fetched for, and every endpoint it names passes `EndpointPolicy`.
public struct ProviderMetadata: Sendable, Equatable {
    public var issuer: String
    public var authorizationEndpoint: String?
    public var tokenEndpoint: String
    public var revocationEndpoint: String?
    public var deviceAuthorizationEndpoint: String?
    /// `token_endpoint_auth_methods_supported`; nil when not published (RFC 8414: client_secret_basic).
    public var tokenEndpointAuthMethods: [String]?
    /// `code_challenge_methods_supported`; nil when not published.
    public var codeChallengeMethods: [String]?

    /// A metadata document is small; anything larger is refused unread.
    static let maximumBytes = 256 * 1024

    private struct Body: Decodable {
        var issuer: String?
        var authorizationEndpoint: String?
        var tokenEndpoint: String?
        var revocationEndpoint: String?
        var deviceAuthorizationEndpoint: String?
        var tokenEndpointAuthMethodsSupported: [String]?
        var codeChallengeMethodsSupported: [String]?

        enum CodingKeys: String, CodingKey {
            case issuer
            case authorizationEndpoint = "authorization_endpoint"
            case tokenEndpoint = "token_endpoint"
            case revocationEndpoint = "revocation_endpoint"
            case deviceAuthorizationEndpoint = "device_authorization_endpoint"
            case tokenEndpointAuthMethodsSupported = "token_endpoint_auth_methods_supported"
            case codeChallengeMethodsSupported = "code_challenge_methods_supported"
        }
    }

    /// Where the metadata of `issuer` is published, in the order tried: RFC 8414 §3.1 inserts the
    /// well-known path between the host and the issuer's path; OpenID Connect appends its own.
    static func wellKnownURLs(issuer: String) throws(OAuthError) -> [String] {
        try checkIssuer(issuer)
        let parsed = try ParsedURL(issuer)
        var path = parsed.components.percentEncodedPath
        if path.hasSuffix("/") { path.removeLast() }
        var root = parsed.components
        root.percentEncodedPath = ""
        guard let origin = root.string else {
            throw .discoveryFailed(issuer: issuer, reason: "the issuer does not parse")
        }
        return [
            origin + "/.well-known/oauth-authorization-server" + path,
            origin + path + "/.well-known/openid-configuration",
        ]
    }

    /// An issuer identifier (RFC 8414 §2): HTTPS (or loopback HTTP), no query, no fragment.
    static func checkIssuer(_ issuer: String) throws(OAuthError) {
        try EndpointPolicy.check(issuer)
        let parsed = try ParsedURL(issuer)
        guard parsed.components.query == nil, parsed.components.fragment == nil, parsed.components.user == nil else {
            throw .discoveryFailed(issuer: issuer, reason: "an issuer has no query, fragment or user information")
        }
    }

    /// The document in `result`, checked against the issuer it was fetched for.
    static func parse(_ result: HTTPResult, issuer: String) throws(OAuthError) -> ProviderMetadata {
        func fail(_ reason: String) -> OAuthError { .discoveryFailed(issuer: issuer, reason: reason) }
        guard result.status == 200 else { throw fail("HTTP \(result.status)") }
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: Data(result.body))
        } catch {
            throw fail("the metadata document is not the expected JSON")
        }
        // RFC 8414 §3.3: the issuer in the document must be identical to the one the URL was made from.
        guard let published = body.issuer else { throw fail("the document names no issuer") }
        guard published == issuer else {
            throw fail("the document is for issuer '\(OAuthError.sanitized(published))', not the one asked for")
        }
        guard let token = body.tokenEndpoint else { throw fail("the document names no token_endpoint") }
        let metadata = ProviderMetadata(
            issuer: issuer, authorizationEndpoint: body.authorizationEndpoint, tokenEndpoint: token,
            revocationEndpoint: body.revocationEndpoint, deviceAuthorizationEndpoint: body.deviceAuthorizationEndpoint,
            tokenEndpointAuthMethods: body.tokenEndpointAuthMethodsSupported,
            codeChallengeMethods: body.codeChallengeMethodsSupported)
        for endpoint in metadata.endpoints.all {
            do {
                try EndpointPolicy.check(endpoint)
            } catch {
                throw fail("it names an endpoint that is not HTTPS: \(error)")
            }
        }
        return metadata
    }

    /// The endpoints as an app stores them.
    public var endpoints: App.Endpoints {
        App.Endpoints(
            authorize: authorizationEndpoint, token: tokenEndpoint, revocation: revocationEndpoint,
            deviceAuthorization: deviceAuthorizationEndpoint, issuer: issuer)
    }

    /// How a confidential client should authenticate, from what the server publishes: Basic when it
    /// lists it or lists nothing (RFC 8414's default), else form parameters; nil when it lists neither.
    public var preferredSecretAuthentication: App.ClientAuthentication? {
        guard let methods = tokenEndpointAuthMethods else { return .clientSecretBasic }
        if methods.contains("client_secret_basic") { return .clientSecretBasic }
        if methods.contains("client_secret_post") { return .clientSecretPost }
        return nil
    }

    /// Whether the server says it takes S256 PKCE challenges (nil when it does not say).
    public var supportsS256: Bool? { codeChallengeMethods.map { $0.contains("S256") } }
}

extension OAuthClient {
    /// Fetches and checks the metadata of `issuer`: `/.well-known/oauth-authorization-server` first,
    /// then `/.well-known/openid-configuration` when the first is not there (404). Redirects are not
    /// followed; the document is bounded; its `issuer` must be exactly `issuer`.
    public func discover(issuer: String) async throws(OAuthError) -> ProviderMetadata {
        var lastStatus = 0
        for url in try ProviderMetadata.wellKnownURLs(issuer: issuer) {
            let exchange = HTTPExchange(
                method: "GET", url: url, headers: [("Accept", "application/json")],
                maximumResponseBytes: ProviderMetadata.maximumBytes)
            let result: HTTPResult
            do {
                result = try await transport.send(exchange)
            } catch .unexpectedResponse(_, let reason) {
                throw .discoveryFailed(issuer: issuer, reason: reason)
            }
            if result.status == 404 || result.status == 410 {
                lastStatus = result.status
                continue
            }
            if result.status == 429 || result.status >= 500 { throw ProviderJSON.statusError(result) }
            let metadata = try ProviderMetadata.parse(result, issuer: issuer)
            logger.info("discovered provider metadata", metadata: ["issuer": "\(issuer)"])
            return metadata
        }
        throw .discoveryFailed(
            issuer: issuer, reason: "no metadata document (HTTP \(lastStatus) at both well-known URLs)")
    }
}
