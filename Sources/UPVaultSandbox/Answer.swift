import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// What the token and revocation endpoints answer once a request is read: computed without waiting, so
/// that the router's handlers and the inline path (`InlineEndpoints`) send the same bytes for the same
/// request.
struct Answer: Sendable, Equatable {
    var status: Int
    var contentType: String?
    var body: String
    /// Seconds, for a 429.
    var retryAfter: Int?

    static func json(_ value: JSON, status: Int) -> Answer {
        Answer(status: status, contentType: "application/json", body: value.serialized)
    }

    static func error(_ code: String, _ description: String, status: Int) -> Answer {
        .json(["error": .string(code), "error_description": .string(description)], status: status)
    }

    /// RFC 6749 §5.2's answer to a client that failed to authenticate.
    static let invalidClient = Answer.error("invalid_client", "Client authentication failed", status: 401)
    /// The `rate_limit` setting's refusal.
    static let tooManyRequests = Answer(
        status: 429, contentType: "text/plain", body: "Too Many Requests", retryAfter: 1)
    /// An empty 200 (a revocation, RFC 7009 §2.2).
    static let ok = Answer(status: 200, contentType: nil, body: "")

    /// The answer's header fields (`Content-Length` is the writer's business).
    var headerFields: HTTPFields {
        var fields = HTTPFields()
        if let contentType { fields[.contentType] = contentType }
        if let retryAfter { fields[Self.retryAfterField] = String(retryAfter) }
        return fields
    }

    static let retryAfterField = HTTPField.Name("Retry-After")!

    /// The answer for the router.
    var response: Response {
        Response(
            status: HTTPResponse.Status(code: status), headers: headerFields,
            body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}

extension Provider {
    /// Whether the token endpoint (or, with `revocation`, the revocation endpoint) can answer the moment
    /// a request is read: no latency, dropped connections, 5xx, 429 or errors-with-200 switched on, and
    /// no hold. Otherwise the router's handlers serve it (they can wait).
    func answersAtOnce(revocation: Bool) -> Bool {
        state.withLock { state in
            let faults = state.faults
            return faults.latencyMilliseconds == 0 && faults.dropRate == 0 && faults.serverErrorRate == 0
                && faults.rateLimitRate == 0 && (revocation || faults.error200Rate == 0) && faults.holdAfter == 0
        }
    }

    /// The token endpoint's answer to `parameters` (Jawbone's token JSON, or an OAuth error).
    func tokenAnswer(_ parameters: TokenParameters) -> Answer {
        switch token(parameters) {
        case .tokens(let access, let refresh, let expiresIn):
            // Jawbone's token JSON: no scope member.
            var body: [String: JSON] = [
                "access_token": .string(access), "token_type": .string("Bearer"), "expires_in": .number(expiresIn),
            ]
            if let refresh { body["refresh_token"] = .string(refresh) }
            return .json(.object(body), status: 200)
        case .error(let code, let description, let status):
            return .error(code, description, status: status)
        }
    }

    /// What a revocation request asks: the token to revoke for an authenticated client, or the answer
    /// that refuses it.
    enum RevocationRequest {
        case revoke(token: String, client: String)
        case refuse(Answer)
    }

    func revocationRequest(_ parameters: TokenParameters) -> RevocationRequest {
        guard let client = authenticate(parameters) else { return .refuse(.invalidClient) }
        guard let token = parameters.token, !token.isEmpty else {
            return .refuse(.error("invalid_request", "token is required", status: 400))
        }
        return .revoke(token: token, client: client)
    }
}
