import FoundationEssentials
import HTTPTypes
public import Hummingbird
public import NIOCore
import Synchronization
import UPVault

/// A request context that keeps the connection, so a fault can drop it without answering.
public struct SandboxContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    var isLoopbackPeer: Bool {
        switch channel.remoteAddress {
        case .v4(let address): address.host.hasPrefix("127.")
        case .v6(let address): address.host == "::1"
        default: false
        }
    }

    /// The port this connection was accepted on.
    var localPort: Int? { channel.localAddress?.port }
}

/// The URL paths Jawbone used, and the ones today's providers add.
enum Paths {
    static let authorize = "/auth/oauth2/auth"
    static let token = "/auth/oauth2/token"
    static let api = "/nudge/api/v.1.1"
    static let device = "/auth/oauth2/device"
    static let revoke = "/auth/oauth2/revoke"
    /// The page a device login's user is sent to.
    static let verification = "/device"
}

struct DroppedConnection: Error {}

/// The sandbox's routes on `provider`: Jawbone's authorize, token, API and refresh-token endpoints, and
/// the `/admin` switches (loopback peers presenting `adminToken`, see `AdminToken`).
public func buildRouter(provider: Provider, adminToken: String) -> Router<SandboxContext> {
    let router = Router(context: SandboxContext.self)

    router.get(RouterPath(stringLiteral: Paths.authorize)) { request, context -> Response in
        let query = request.uri.queryParameters
        let decision = provider.authorize(
            clientID: query.get("client_id"), redirectURI: query.get("redirect_uri"),
            responseType: query.get("response_type"), scope: query.get("scope"), state: query.get("state"),
            challenge: query.get("code_challenge"), challengeMethod: query.get("code_challenge_method"),
            user: query.get("sandbox_user"))
        guard let location = decision.redirect else {
            return Response.text(decision.reason, status: .badRequest)
        }
        return Response(status: .found, headers: [.location: location])
    }

    // Without faults or a hold, `InlineEndpoints` answers token POSTs before they reach the router.
    let tokenHandler: @Sendable (Request, SandboxContext) async throws -> Response = { request, context in
        if let fault = try await injectFault(provider: provider, context: context, tokenEndpoint: true) { return fault }
        if let limited = provider.admit() { return limited.response }
        let parameters = try await TokenParameters.read(from: request)
        if parameters.grantType == "refresh_token" { await provider.holdIfAsked() }
        return provider.tokenAnswer(parameters).response
    }
    router.get(RouterPath(stringLiteral: Paths.token), use: tokenHandler)
    router.post(RouterPath(stringLiteral: Paths.token), use: tokenHandler)

    router.get(RouterPath(stringLiteral: Paths.api + "/users/@me")) { request, context -> Response in
        try await api(provider: provider, request: request, context: context) { record in
            [
                "xid": .string(record.user), "first": .string("Sandbox"), "last": .string(record.user),
                "image": .string(""),
            ]
        }
    }
    router.get(RouterPath(stringLiteral: Paths.api + "/users/@me/moves")) { request, context -> Response in
        try await api(provider: provider, request: request, context: context) { record in
            let item: JSON = [
                "xid": .string("move-\(record.user)"), "date": .number(20_140_425), "title": .string("6,012 steps"),
                "details": ["steps": .number(6012), "distance": .number(4810), "km": .decimal(4.81)],
            ]
            return ["items": .array([item]), "size": .number(1), "links": [:]]
        }
    }
    router.post(RouterPath(stringLiteral: Paths.api + "/users/@me/refreshToken")) { request, context -> Response in
        let body = try await request.body.collect(upTo: 64 * 1024)
        let secret = try TokenParameters.Secret.decodeForm(String(buffer: body)).secret ?? ""
        return try await api(provider: provider, request: request, context: context) { record in
            let accepted = provider.state.withLock { state in
                Provider.accepts(state.client, id: record.client, secret: secret, at: Provider.now())
            }
            guard accepted else {
                throw EnvelopeError(status: .badRequest, type: "invalid_client", detail: "Invalid client secret")
            }
            return ["refresh_token": .string(record.refreshToken)]
        }
    }

    addDiscoveryRoutes(to: router)
    addDeviceRoutes(to: router, provider: provider)
    addRevocationRoutes(to: router, provider: provider)
    addAdminRoutes(to: router, provider: provider, token: adminToken)
    return router
}

/// An enveloped API call: 404 without an OAuth header (as v.1.1 did), 401 for a bad or expired token.
func api(
    provider: Provider, request: Request, context: SandboxContext,
    data: @Sendable (Provider.GrantRecord) throws -> JSON
) async throws -> Response {
    if let fault = try await injectFault(provider: provider, context: context, tokenEndpoint: false) { return fault }
    provider.state.withLock { $0.statistics.apiRequests += 1 }
    guard let header = request.headers[.authorization] else {
        return envelope(
            status: .notFound, data: [:], errorType: "endpoint_error", detail: "Endpoint not found", user: nil)
    }
    guard header.hasPrefix("Bearer "), let record = provider.grant(forAccessToken: String(header.dropFirst(7))) else {
        provider.state.withLock { $0.statistics.unauthorizedAPIRequests += 1 }
        return envelope(
            status: .unauthorized, data: [:], errorType: "authentication_error",
            detail: "You must be logged in to perform that action", user: nil)
    }
    do {
        return envelope(status: .ok, data: try data(record), errorType: nil, detail: nil, user: record.user)
    } catch let error as EnvelopeError {
        return envelope(status: error.status, data: [:], errorType: error.type, detail: error.detail, user: record.user)
    }
}

struct EnvelopeError: Error {
    var status: HTTPResponse.Status
    var type: String
    var detail: String
}

func envelope(status: HTTPResponse.Status, data: JSON, errorType: String?, detail: String?, user: String?) -> Response {
    var meta: [String: JSON] = [
        "code": .number(Int64(status.code)), "message": .string(status.reasonPhrase), "time": .number(Provider.now()),
    ]
    if let user { meta["user_xid"] = .string(user) }
    if let errorType { meta["error_type"] = .string(errorType) }
    if let detail { meta["error_detail"] = .string(detail) }
    return Response.json(["meta": .object(meta), "data": data], status: status)
}

/// Latency, dropped connections, 5xx, 429 and errors-with-200, as switched on.
func injectFault(provider: Provider, context: SandboxContext, tokenEndpoint: Bool) async throws -> Response? {
    let faults = provider.state.withLock { $0.faults }
    if faults.latencyMilliseconds > 0 { try await Task.sleep(for: .milliseconds(faults.latencyMilliseconds)) }
    func roll(_ rate: Double) -> Bool { rate > 0 && Double.random(in: 0..<1) < rate }
    let count = { provider.state.withLock { $0.statistics.faultsInjected += 1 } }
    if roll(faults.dropRate) {
        count()
        try await context.channel.close()
        throw DroppedConnection()
    }
    if roll(faults.serverErrorRate) {
        count()
        return Response.text(
            "<html><body><h1>503 Service Unavailable</h1></body></html>", status: .serviceUnavailable, type: "text/html"
        )
    }
    if roll(faults.rateLimitRate) {
        count()
        var response = Response.text("Too Many Requests", status: .tooManyRequests)
        response.headers[HTTPField.Name("Retry-After")!] = String(faults.retryAfter)
        return response
    }
    if tokenEndpoint && roll(faults.error200Rate) {
        count()
        return Response.json(
            ["error": .string("temporarily_unavailable"), "error_description": .string("Try again later")], status: .ok)
    }
    return nil
}

func decodeBasic(_ header: String) -> (String, String)? {
    guard header.hasPrefix("Basic "), let bytes = Base64URL.decode(String(header.dropFirst(6)), original: true) else {
        return nil
    }
    let decoded = String(decoding: bytes, as: UTF8.self)
    guard let colon = decoded.firstIndex(of: ":") else { return nil }
    let id = decoded[..<colon].removingPercentEncodingForm
    let secret = decoded[decoded.index(after: colon)...].removingPercentEncodingForm
    return (id, secret)
}

extension TokenParameters {
    /// The parameters of a request to the token, device or revocation endpoint: the query, the form
    /// body of a POST (which wins), and HTTP Basic client credentials.
    static func read(from request: Request) async throws -> TokenParameters {
        let body = request.method == .post ? try await request.body.collect(upTo: bodyLimit) : nil
        return read(query: request.uri.query, body: body, authorization: request.headers[.authorization])
    }

    /// The most a token, device or revocation request's form body may hold.
    static let bodyLimit = 64 * 1024

    /// The parameters from a request's query, its form body (which wins) and its `Authorization` header.
    static func read(query: String?, body: ByteBuffer?, authorization: String?) -> TokenParameters {
        var parameters = decodeForm(query ?? "")
        if let body { parameters = decodeForm(String(buffer: body)).merged(with: parameters) }
        if let authorization, let (id, secret) = decodeBasic(authorization) {
            parameters.clientID = parameters.clientID ?? id
            parameters.clientSecret = parameters.clientSecret ?? secret
        }
        return parameters
    }

    /// The parameters of an `application/x-www-form-urlencoded` text. Read by hand: every refresh of a
    /// bulk run comes through here, and the Codable form decoder was a large share of the sandbox's
    /// cost per request (the sandbox shares the machine with the client it measures). The first
    /// occurrence of a field counts; a field without `=` has an empty value.
    static func decodeForm(_ text: String) -> TokenParameters {
        var parameters = TokenParameters()
        for pair in text.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
            let value = { Substring(pair[(equals == pair.endIndex ? equals : pair.index(after: equals))...]) }
            switch Substring(pair[..<equals]).removingPercentEncodingForm {
            case "grant_type": parameters.grantType = parameters.grantType ?? value().removingPercentEncodingForm
            case "client_id": parameters.clientID = parameters.clientID ?? value().removingPercentEncodingForm
            case "client_secret":
                parameters.clientSecret = parameters.clientSecret ?? value().removingPercentEncodingForm
            case "code": parameters.code = parameters.code ?? value().removingPercentEncodingForm
            case "redirect_uri": parameters.redirectURI = parameters.redirectURI ?? value().removingPercentEncodingForm
            case "refresh_token":
                parameters.refreshToken = parameters.refreshToken ?? value().removingPercentEncodingForm
            case "code_verifier":
                parameters.codeVerifier = parameters.codeVerifier ?? value().removingPercentEncodingForm
            case "device_code": parameters.deviceCode = parameters.deviceCode ?? value().removingPercentEncodingForm
            case "scope": parameters.scope = parameters.scope ?? value().removingPercentEncodingForm
            case "token": parameters.token = parameters.token ?? value().removingPercentEncodingForm
            case "token_type_hint":
                parameters.tokenTypeHint = parameters.tokenTypeHint ?? value().removingPercentEncodingForm
            default: continue
            }
        }
        return parameters
    }

    struct Secret: Decodable {
        var secret: String?
        static func decodeForm(_ text: String) throws -> Secret {
            try URLEncodedFormDecoder().decode(Secret.self, from: text)
        }
    }
}

extension Response {
    static func json(_ value: JSON, status: HTTPResponse.Status) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: value.serialized)))
    }

    static func text(_ text: String, status: HTTPResponse.Status, type: String = "text/plain") -> Response {
        Response(
            status: status, headers: [.contentType: type], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
