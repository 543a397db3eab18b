import Synchronization
import UPVault

/// The parameters of a token request, from the query (GET) and the form body (POST).
struct TokenParameters: Decodable, Sendable {
    var grantType: String?
    var clientID: String?
    var clientSecret: String?
    var code: String?
    var redirectURI: String?
    var refreshToken: String?
    var codeVerifier: String?
    var deviceCode: String?
    var scope: String?
    /// Revocation (RFC 7009).
    var token: String?
    var tokenTypeHint: String?

    init(
        grantType: String? = nil, clientID: String? = nil, clientSecret: String? = nil, code: String? = nil,
        redirectURI: String? = nil, refreshToken: String? = nil, codeVerifier: String? = nil, deviceCode: String? = nil,
        scope: String? = nil, token: String? = nil, tokenTypeHint: String? = nil
    ) {
        self.deviceCode = deviceCode
        self.scope = scope
        self.token = token
        self.tokenTypeHint = tokenTypeHint
        self.grantType = grantType
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.code = code
        self.redirectURI = redirectURI
        self.refreshToken = refreshToken
        self.codeVerifier = codeVerifier
    }

    enum CodingKeys: String, CodingKey {
        case code
        case grantType = "grant_type"
        case clientID = "client_id"
        case clientSecret = "client_secret"
        case redirectURI = "redirect_uri"
        case refreshToken = "refresh_token"
        case codeVerifier = "code_verifier"
        case deviceCode = "device_code"
        case scope, token
        case tokenTypeHint = "token_type_hint"
    }

    /// Fields of `other` fill the ones missing here.
    func merged(with other: TokenParameters) -> TokenParameters {
        TokenParameters(
            grantType: grantType ?? other.grantType, clientID: clientID ?? other.clientID,
            clientSecret: clientSecret ?? other.clientSecret, code: code ?? other.code,
            redirectURI: redirectURI ?? other.redirectURI, refreshToken: refreshToken ?? other.refreshToken,
            codeVerifier: codeVerifier ?? other.codeVerifier, deviceCode: deviceCode ?? other.deviceCode,
            scope: scope ?? other.scope, token: token ?? other.token,
            tokenTypeHint: tokenTypeHint ?? other.tokenTypeHint)
    }
}

/// What the token endpoint answers: Jawbone's token JSON, or an OAuth error.
enum TokenOutcome: Sendable {
    case tokens(access: String, refresh: String?, expiresIn: Int64)
    /// `status` 400 or 401 (or 200 when the errors-with-200 switch is on).
    case error(code: String, description: String, status: Int)
}

extension Provider {
    func token(_ parameters: TokenParameters) -> TokenOutcome {
        let now = Self.now()
        return state.withLock { state in
            state.statistics.tokenRequests += 1
            let with200 = state.settings.errorsWith200
            let errorStatus = { (status: Int) in with200 ? 200 : status }
            guard let id = Self.authenticate(parameters, state: state, at: now) else {
                state.statistics.invalidClient += 1
                return .error(
                    code: "invalid_client", description: "Client authentication failed", status: errorStatus(401))
            }
            let isPublic = id == state.publicClientID
            switch parameters.grantType {
            case "authorization_code":
                state.statistics.authorizationCodeGrants += 1
                guard let code = parameters.code, let pending = state.codes.removeValue(forKey: code),
                    pending.expiresAt > now, pending.client == id
                else {
                    return .error(
                        code: "invalid_grant", description: "Invalid or expired code", status: errorStatus(400))
                }
                if let redirect = parameters.redirectURI, redirect != pending.redirectURI {
                    return .error(code: "invalid_grant", description: "redirect_uri mismatch", status: errorStatus(400))
                }
                if let challenge = pending.challenge {
                    guard let verifier = parameters.codeVerifier,
                        ConstantTime.equals(Base64URL.encode(SHA256.hash(verifier.utf8)), challenge)
                    else {
                        return .error(
                            code: "invalid_grant", description: "PKCE verification failed", status: errorStatus(400))
                    }
                }
                let record = issueGrant(user: pending.user, scope: pending.scope, client: id, state: &state)
                return .tokens(
                    access: record.accessToken, refresh: record.refreshToken,
                    expiresIn: state.settings.accessTokenLifetime)
            case "refresh_token":
                state.statistics.refreshGrants += 1
                guard let token = parameters.refreshToken, let grantID = state.byRefreshToken[token],
                    var record = state.grants[grantID], record.client == id
                else {
                    if let token = parameters.refreshToken, let family = state.consumedRefreshTokens[token] {
                        state.statistics.consumedRefreshTokenReuses += 1
                        if state.settings.revokeFamilyOnReuse, let record = state.grants[family],
                            state.byRefreshToken[record.refreshToken] == family
                        {
                            state.byRefreshToken[record.refreshToken] = nil
                            state.byAccessToken[record.accessToken] = nil
                            state.statistics.familiesRevoked += 1
                        }
                    }
                    return .error(code: "invalid_grant", description: "Invalid refresh token", status: errorStatus(400))
                }
                if state.users[record.user]?.revoked == true {
                    return .error(
                        code: "access_denied", description: "The user removed this application",
                        status: errorStatus(400))
                }
                state.byAccessToken[record.accessToken] = nil
                record.accessToken = Self.token()
                record.accessExpiresAt = now + state.settings.accessTokenLifetime
                if state.settings.rotateRefreshTokens {
                    state.byRefreshToken[record.refreshToken] = nil
                    state.consumedRefreshTokens[record.refreshToken] = grantID
                    record.refreshToken = Self.token()
                    state.byRefreshToken[record.refreshToken] = grantID
                }
                state.byAccessToken[record.accessToken] = grantID
                state.grants[grantID] = record
                state.statistics.refreshesSucceeded += 1
                return .tokens(
                    access: record.accessToken, refresh: record.refreshToken,
                    expiresIn: state.settings.accessTokenLifetime)
            case "client_credentials":
                guard !isPublic else {
                    return .error(
                        code: "unauthorized_client", description: "A public client has no client credentials",
                        status: errorStatus(400))
                }
                state.statistics.clientCredentialsGrants += 1
                let token = Self.token()
                state.appTokens[token] = now + state.settings.accessTokenLifetime
                return .tokens(access: token, refresh: nil, expiresIn: state.settings.accessTokenLifetime)
            case "urn:ietf:params:oauth:grant-type:device_code":
                return pollDevice(code: parameters.deviceCode, client: id, at: now, state: &state).outcome(errorStatus)
            default:
                return .error(
                    code: "unsupported_grant_type", description: "Unsupported grant_type", status: errorStatus(400))
            }
        }
    }

    /// The client a request authenticates as: the confidential client with a valid secret, or the public
    /// client by its id alone (a public client that sends a secret is refused).
    static func authenticate(_ parameters: TokenParameters, state: State, at now: Int64) -> String? {
        guard let id = parameters.clientID else { return nil }
        if let secret = parameters.clientSecret {
            return accepts(state.client, id: id, secret: secret, at: now) ? id : nil
        }
        return ConstantTime.equals(id, state.publicClientID) ? id : nil
    }

    /// The authorization endpoint's decision: a redirect URL with a code (or with `error=access_denied`),
    /// or nil and a reason when the request itself is bad (no redirect then, as RFC 6749 4.1.2.1 says).
    func authorize(
        clientID: String?, redirectURI: String?, responseType: String?, scope: String?, state requestState: String?,
        challenge: String?, challengeMethod: String?, user: String?
    ) -> (redirect: String?, reason: String) {
        let now = Self.now()
        return state.withLock { state in
            guard responseType == "code" else { return (nil, "response_type must be code") }
            guard let clientID,
                ConstantTime.equals(clientID, state.client.id) || ConstantTime.equals(clientID, state.publicClientID)
            else {
                return (nil, "unknown client_id")
            }
            if clientID == state.publicClientID && challenge == nil {
                return (nil, "a public client must send a PKCE code_challenge (S256)")
            }
            guard let redirectURI, RedirectMatching.isRegistered(redirectURI, in: state.client.redirectURIs) else {
                return (nil, "redirect_uri is not registered for this client")
            }
            if challenge != nil && challengeMethod != "S256" { return (nil, "only S256 PKCE is supported") }
            var fields: [(String, String)] = []
            if state.settings.deny {
                fields.append(("error", "access_denied"))
            } else {
                let xid = state.userID(user)
                let code = Self.token()
                state.codes[code] = PendingCode(
                    client: clientID, user: xid, redirectURI: redirectURI, scope: scope ?? "basic_read",
                    challenge: challenge, expiresAt: now + 600)
                fields.append(("code", code))
            }
            if let requestState { fields.append(("state", requestState)) }
            let separator = redirectURI.contains("?") ? "&" : "?"
            return (redirectURI + separator + Form.encode(fields), "")
        }
    }
}

/// Form encoding as the provider writes it into redirect URLs.
public enum Form {
    public static func encode(_ fields: [(String, String)]) -> String {
        fields.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    public static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
                || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
            {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 0xF)])
            }
        }
        return out
    }
}
