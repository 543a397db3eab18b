import Foundation
import Testing
import UPVault
import UPVaultTesting

@testable import UPVaultOAuth

@Suite struct AuthorizationTests {
    @Test func pkceChallengeMatchesRFC7636AppendixB() {
        let challenge = Base64URL.encode(SHA256.hash("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".utf8))
        #expect(challenge == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    }

    @Test func authorizationURLCarriesAFreshStateAndPKCE() throws {
        let fixture = try Fixture()
        try fixture.seed(pkce: true)
        let client = fixture.client(StubTransport { _ throws(OAuthError) in json(500, "") })
        let first = try client.authorize(app: "up")
        let second = try client.authorize(app: "up")
        #expect(first.state != second.state)
        #expect(first.state.count == 43)
        let items = Dictionary(
            uniqueKeysWithValues: URLComponents(string: first.url)!.queryItems!.map { ($0.name, $0.value!) })
        #expect(items["response_type"] == "code")
        #expect(items["client_id"] == "client-1")
        #expect(items["redirect_uri"] == "https://localhost/callback")
        #expect(items["state"] == first.state)
        #expect(items["code_challenge_method"] == "S256")
        #expect(items["code_challenge"] == Base64URL.encode(SHA256.hash(first.codeVerifier!.utf8)))
        #expect(!first.url.contains("secret-1"))
    }

    @Test func completingStoresAGrantWithAnAbsoluteExpiry() async throws {
        let fixture = try Fixture()
        try fixture.seed(grant: nil)
        let transport = StubTransport { _ throws(OAuthError) in json(200, tokenJSON) }
        let client = fixture.client(transport)
        let request = try client.authorize(app: "up")
        let grant = try await client.completeAuthorization(
            request, redirectURL: "https://localhost/callback?code=abc&state=\(request.state)", user: "alice")
        #expect(grant.expiresAt == fixture.now + 31_536_000)
        #expect(try fixture.grant() == grant)
        let sent = try #require(transport.requests.first)
        #expect(sent.method == "POST")
        #expect(
            sent.form == [
                "grant_type": "authorization_code", "code": "abc", "redirect_uri": "https://localhost/callback",
                "client_id": "client-1", "client_secret": "secret-1",
            ])
        #expect(!sent.url.contains("secret"), "the secret goes in the body, never the URL")
    }

    @Test(arguments: [
        ("https://localhost/callback?code=abc&state=WRONG", OAuthError.stateMismatch),
        ("https://localhost/callback?code=abc", OAuthError.stateMismatch),
        ("https://localhost/callback?error=access_denied&state=STATE", OAuthError.accessDenied),
        ("https://localhost/callback?state=STATE", OAuthError.missingAuthorizationCode),
        (
            "https://evil.example/callback?code=abc&state=STATE",
            OAuthError.redirectMismatch(expected: "https://localhost/callback")
        ),
        (
            "http://localhost.evil.example/callback?code=abc&state=STATE",
            OAuthError.insecureEndpoint("http://localhost.evil.example/callback")
        ),
        // Matched exactly, not by prefix: a longer path, a user-info trick, another port.
        (
            "https://localhost/callbackEVIL/x?code=abc&state=STATE",
            OAuthError.redirectMismatch(expected: "https://localhost/callback")
        ),
        (
            "https://localhost/callback/x?code=abc&state=STATE",
            OAuthError.redirectMismatch(expected: "https://localhost/callback")
        ),
        (
            "https://localhost@evil.example/callback?code=abc&state=STATE",
            OAuthError.redirectMismatch(expected: "https://localhost/callback")
        ),
        (
            "https://localhost:8443/callback?code=abc&state=STATE",
            OAuthError.redirectMismatch(expected: "https://localhost/callback")
        ),
    ])
    func badRedirectsAreRefusedBeforeAnyRequest(redirect: String, expected: OAuthError) async throws {
        let fixture = try Fixture()
        try fixture.seed(grant: nil)
        let transport = StubTransport { _ throws(OAuthError) in json(200, tokenJSON) }
        let client = fixture.client(transport)
        let request = try client.authorize(app: "up")
        await #expect(throws: expected) {
            try await client.completeAuthorization(
                request, redirectURL: redirect.replacingOccurrences(of: "STATE", with: request.state), user: "alice")
        }
        #expect(transport.requests.isEmpty)
        #expect(try fixture.grant() == nil)
    }

    /// A redirect URI without a path stands for `/` only; a loopback one without a port takes any port
    /// (RFC 8252 §7.3); the default port may be written out.
    @Test func redirectURIsCompareSchemeHostPortAndPath() throws {
        func same(_ received: String, _ expected: String) throws -> Bool {
            try ParsedURL(received).isRedirect(to: try ParsedURL(expected))
        }
        #expect(try same("https://example.com/?code=1", "https://example.com"))
        #expect(try same("https://example.com:443/", "https://example.com"))
        #expect(try same("HTTPS://EXAMPLE.com/", "https://example.com"))
        #expect(try !same("https://example.com.evil.net/", "https://example.com"))
        #expect(try !same("https://example.com@evil.net/", "https://example.com"))
        #expect(try !same("https://example.com:444/", "https://example.com"))
        #expect(try !same("http://example.com/", "https://example.com"))
        #expect(try !same("https://example.com/cbEVIL/x", "https://example.com/cb"))
        #expect(try same("http://127.0.0.1:53121/cb", "http://127.0.0.1/cb"))
        #expect(try !same("http://127.0.0.1:53121/cb", "http://127.0.0.1:8080/cb"))
        #expect(try !same("http://127.0.0.1:53121/cbx", "http://127.0.0.1/cb"))
    }
}
