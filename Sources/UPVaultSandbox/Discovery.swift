import Hummingbird

/// RFC 8414 metadata (also served as OpenID Connect's `openid-configuration`). The issuer is the URL
/// the client used (`http://` and its `Host`), so a client that discovers `http://127.0.0.1:PORT` finds
/// its own issuer in the document, as RFC 8414 §3.3 asks.
func addDiscoveryRoutes(to router: Router<SandboxContext>) {
    let handler: @Sendable (Request, SandboxContext) async throws -> Response = { request, _ in
        guard let host = request.head.authority, host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x2F }) else {
            return Response.text("a Host header is needed", status: .badRequest)
        }
        let issuer = "http://\(host)"
        let methods: [JSON] = ["client_secret_basic", "client_secret_post", "none"].map { .string($0) }
        let grants: [JSON] = [
            "authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code",
        ].map { .string($0) }
        return Response.json(
            [
                "issuer": .string(issuer),
                "authorization_endpoint": .string(issuer + Paths.authorize),
                "token_endpoint": .string(issuer + Paths.token),
                "revocation_endpoint": .string(issuer + Paths.revoke),
                "device_authorization_endpoint": .string(issuer + Paths.device),
                "token_endpoint_auth_methods_supported": .array(methods),
                "revocation_endpoint_auth_methods_supported": .array(methods),
                "code_challenge_methods_supported": .array([.string("S256")]),
                "grant_types_supported": .array(grants),
                "response_types_supported": .array([.string("code")]),
            ], status: .ok)
    }
    router.get("/.well-known/oauth-authorization-server", use: handler)
    router.get("/.well-known/openid-configuration", use: handler)
}
