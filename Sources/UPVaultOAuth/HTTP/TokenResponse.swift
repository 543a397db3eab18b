import FoundationEssentials
import UPVault

/// A token endpoint's answer (RFC 6749 section 5.1), checked: tokens are non-empty printable ASCII of
/// bounded length, `expires_in` a plausible number of seconds.
struct TokenResponse: Sendable {
    var accessToken: String
    var tokenType: String
    var expiresIn: Int64?
    var refreshToken: String?
    var scope: String?

    static let maximumTokenLength = 4096
    /// Ten years: anything longer is treated as a malformed response.
    static let maximumLifetime: Int64 = 10 * 366 * 86_400

    /// Interprets a token endpoint's HTTP result. An `error` member makes it an error whatever the
    /// HTTP status (Jawbone-era providers sent errors with 200).
    static func parse(_ result: HTTPResult) throws(OAuthError) -> TokenResponse {
        let json: TokenJSON
        if let fast = TokenJSON(reading: result.body) {
            json = fast
        } else {
            json = try ProviderJSON.decode(TokenJSON.self, from: result)
        }
        if let code = json.error {
            throw ProviderJSON.oauthError(
                code: code, description: json.errorDescription, status: result.status, result: result)
        }
        guard (200..<300).contains(result.status) else {
            throw ProviderJSON.statusError(result)
        }
        guard let access = json.accessToken else {
            throw .unexpectedResponse(httpStatus: result.status, reason: "no access_token")
        }
        try checkToken(access, field: "access_token", status: result.status)
        if let refresh = json.refreshToken { try checkToken(refresh, field: "refresh_token", status: result.status) }
        if let expires = json.expiresIn?.value, expires < 0 || expires > maximumLifetime {
            throw .unexpectedResponse(httpStatus: result.status, reason: "expires_in out of range")
        }
        let type = json.tokenType ?? "Bearer"
        guard type.count <= 64, type.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw .unexpectedResponse(httpStatus: result.status, reason: "malformed token_type")
        }
        return TokenResponse(
            accessToken: access, tokenType: type, expiresIn: json.expiresIn?.value,
            refreshToken: json.refreshToken.flatMap { $0.isEmpty ? nil : $0 }, scope: json.scope)
    }

    static func checkToken(_ token: String, field: String, status: Int) throws(OAuthError) {
        guard !token.isEmpty, token.utf8.count <= maximumTokenLength,
            token.utf8.withContiguousStorageIfAvailable({ $0.allSatisfy(isTokenByte) })
                ?? token.utf8.allSatisfy(isTokenByte)
        else { throw .unexpectedResponse(httpStatus: status, reason: "malformed \(field)") }
    }

    /// Visible ASCII, no space: what a token may hold.
    private static func isTokenByte(_ byte: UInt8) -> Bool { byte > 0x20 && byte < 0x7F }
}

struct TokenJSON: Decodable, Equatable {
    var accessToken: String?
    var tokenType: String?
    var expiresIn: LenientInteger?
    var refreshToken: String?
    var scope: String?
    var error: String?
    var errorDescription: String?

    enum CodingKeys: String, CodingKey {
        case scope, error
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresIn = "expires_in"
        case refreshToken = "refresh_token"
        case errorDescription = "error_description"
    }
}

extension TokenJSON {
    /// The answer read without JSONDecoder (once per refresh, it cost more than the rest of the
    /// parsing): one object, its known fields of the expected types at most once each, anything else
    /// ignored as Codable ignores it. Nil on anything less plain, which JSONDecoder then decides.
    init?(reading body: [UInt8]) {
        var strings: [String: String] = [:]
        var seen = Set<String>()
        var expires: Int64??
        var plain = true
        let complete = body.withUnsafeBytes { raw -> Bool in
            var scanner = JSONScanner(raw)
            do {
                try scanner.readObject { key, value in
                    switch (key, value) {
                    case ("expires_in", .null) where expires == nil:
                        expires = .some(nil)
                    case ("expires_in", _):
                        guard expires == nil, let seconds = LenientInteger.value(of: value) else {
                            plain = false
                            return
                        }
                        expires = .some(seconds)
                    case ("access_token", _), ("token_type", _), ("refresh_token", _), ("scope", _), ("error", _),
                        ("error_description", _):
                        guard seen.insert(key).inserted else {
                            plain = false
                            return
                        }
                        switch value {
                        case .string(let text): strings[key] = text
                        case .null: break  // as Codable reads an optional
                        default: plain = false
                        }
                    default: break
                    }
                }
            } catch {
                return false
            }
            return scanner.peek() == nil
        }
        guard complete, plain else { return nil }
        self.init(
            accessToken: strings["access_token"], tokenType: strings["token_type"],
            expiresIn: (expires ?? nil).map(LenientInteger.init(value:)), refreshToken: strings["refresh_token"],
            scope: strings["scope"], error: strings["error"], errorDescription: strings["error_description"])
    }
}

/// A number that some providers send as a JSON string.
struct LenientInteger: Decodable, Equatable {
    var value: Int64

    init(value: Int64) {
        self.value = value
    }

    /// What `init(from:)` makes of a scanned value (nil: null, or not an integer; JSONDecoder decides).
    static func value(of scalar: JSONScanner.Scalar) -> Int64? {
        switch scalar {
        case .integer(let number): number
        case .number(let double) where double.isFinite && abs(double) < 1e15: Int64(double)
        case .string(let text): Int64(text)
        default: nil
        }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int64.self) {
            value = number
        } else if let double = try? container.decode(Double.self), double.isFinite, abs(double) < 1e15 {
            value = Int64(double)
        } else if let text = try? container.decode(String.self), let number = Int64(text) {
            value = number
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an integer")
        }
    }
}

/// Shared reading of provider JSON: size already bounded by the transport, then decoded, and mapped
/// to `OAuthError` by HTTP status when it is not JSON at all (HTML error pages).
enum ProviderJSON {
    static func decode<T: Decodable>(_ type: T.Type, from result: HTTPResult) throws(OAuthError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(result.body))
        } catch {
            throw statusError(result, fallback: "the body is not the expected JSON")
        }
    }

    /// The error for a response without a usable OAuth error member.
    static func statusError(_ result: HTTPResult, fallback: String = "unexpected status") -> OAuthError {
        switch result.status {
        case 429: .rateLimited(retryAfter: result.header("Retry-After").flatMap { Int($0.trimmedWhitespace) })
        case 500...599: .providerUnavailable(httpStatus: result.status)
        default: .unexpectedResponse(httpStatus: result.status, reason: fallback)
        }
    }

    /// The error for an OAuth `error` member. `invalid_grant` and `access_denied` are returned as
    /// `providerError` for the caller to turn into what they mean for its grant.
    static func oauthError(code: String, description: String?, status: Int, result: HTTPResult) -> OAuthError {
        let code = OAuthError.sanitized(code)
        switch code {
        case "temporarily_unavailable", "server_error":
            return status == 429 ? statusError(result) : .providerUnavailable(httpStatus: status)
        default:
            if status == 429 { return statusError(result) }
            return .providerError(code: code, reason: OAuthError.sanitized(description), httpStatus: status)
        }
    }
}
