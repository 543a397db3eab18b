import Foundation
import Synchronization
import Testing
import UPVault
import UPVaultTesting

@testable import UPVaultOAuth

@Suite struct DiscoveryTests {
    static func document(issuer: String = "https://id.example", _ extra: String = "") -> String {
        #"{"issuer": "\#(issuer)", "authorization_endpoint": "https://id.example/authorize", "token_endpoint": "https://id.example/token", "revocation_endpoint": "https://id.example/revoke", "device_authorization_endpoint": "https://id.example/device", "code_challenge_methods_supported": ["S256"]\#(extra)}"#
    }

    static func registration(issuer: String = "https://id.example", isPublic: Bool = false) -> AppRegistration {
        AppRegistration(name: "dev", provider: .generic, issuer: issuer, clientID: "cli-1", isPublic: isPublic)
    }

    @Test func wellKnownURLsFollowRFC8414AndOpenIDConnect() throws {
        #expect(
            try ProviderMetadata.wellKnownURLs(issuer: "https://id.example") == [
                "https://id.example/.well-known/oauth-authorization-server",
                "https://id.example/.well-known/openid-configuration",
            ])
        #expect(
            try ProviderMetadata.wellKnownURLs(issuer: "https://id.example/tenant/1/") == [
                "https://id.example/.well-known/oauth-authorization-server/tenant/1",
                "https://id.example/tenant/1/.well-known/openid-configuration",
            ])
        for bad in ["http://id.example", "https://id.example/?x=1", "https://id.example/#f", "https://u@id.example"] {
            #expect(throws: OAuthError.self) { try ProviderMetadata.wellKnownURLs(issuer: bad) }
        }
    }

    @Test func discoveryStoresTheEndpointsAndPrefersBasicAuthentication() async throws {
        let fixture = try Fixture()
        let transport = StubTransport { request throws(OAuthError) in
            #expect(request.method == "GET")
            return json(200, Self.document())
        }
        let app = try await fixture.client(transport).addApp(Self.registration(), replace: false) { "s3cret" }
        #expect(
            app.endpoints.authorize == "https://id.example/authorize" && app.endpoints.issuer == "https://id.example")
        #expect(app.endpoints.revocation == "https://id.example/revoke")
        #expect(app.endpoints.deviceAuthorization == "https://id.example/device")
        #expect(app.clientAuthentication == .clientSecretBasic && app.supportsPKCE)
        #expect(try fixture.vault.entry(App.self, named: "dev") == app)
        #expect(transport.requests.count == 1)
    }

    @Test func openIDConfigurationIsTriedWhenTheFirstIsMissingAndExplicitFlagsWin() async throws {
        let fixture = try Fixture()
        let transport = StubTransport { request throws(OAuthError) in
            request.url.hasSuffix("openid-configuration")
                ? json(200, Self.document(#", "token_endpoint_auth_methods_supported": ["client_secret_post"]"#))
                : json(404, "not found")
        }
        var registration = Self.registration()
        registration.overrides = EndpointOverrides(token: "https://other.example/token")
        let app = try await fixture.client(transport).addApp(registration, replace: false) { "s3cret" }
        #expect(app.endpoints.token == "https://other.example/token" && app.clientAuthentication == .clientSecretPost)
        #expect(transport.requests.count == 2)
    }

    @Test(arguments: [
        ("issuer", json(200, document(issuer: "https://evil.example"))),
        ("no issuer", json(200, #"{"token_endpoint": "https://id.example/token"}"#)),
        ("no token endpoint", json(200, #"{"issuer": "https://id.example"}"#)),
        ("http endpoint", json(200, document().replacing("https://id.example/token", with: "http://id.example/token"))),
        ("http revocation", json(200, document().replacing("https://id.example/revoke", with: "http://x.example/r"))),
        ("not json", json(200, "<html>")),
        ("redirect", json(302, "", headers: [("Location", "https://evil.example/")])),
        ("missing", json(404, "")),
        ("auth methods", json(200, document(#", "token_endpoint_auth_methods_supported": ["private_key_jwt"]"#))),
    ])
    func hostileMetadataStoresNothingAndAsksForNoSecret(case name: String, answer: HTTPResult) async throws {
        let fixture = try Fixture()
        let transport = StubTransport { _ throws(OAuthError) in answer }
        let asked = Mutex(false)
        await #expect(throws: (any Error).self, "\(name)") {
            try await fixture.client(transport).addApp(Self.registration(), replace: false) {
                asked.withLock { $0 = true }
                return "s3cret"
            }
        }
        #expect(!asked.withLock { $0 })
        #expect(try fixture.vault.entry(App.self, named: "dev") == nil)
    }

    @Test func anOversizedDocumentIsRefusedByTheTransportBound() async throws {
        let fixture = try Fixture()
        let transport = StubTransport { _ throws(OAuthError) in
            throw .unexpectedResponse(httpStatus: 200, reason: "response larger than 262144 bytes")
        }
        await #expect(throws: OAuthError.self) {
            try await fixture.client(transport).addApp(Self.registration(), replace: false) { "s" }
        }
        #expect(try fixture.vault.entry(App.self, named: "dev") == nil)
    }

    @Test func aPublicClientFromDiscoveryNeedsNoSecret() async throws {
        let fixture = try Fixture()
        let transport = StubTransport { _ throws(OAuthError) in json(200, Self.document()) }
        let app = try await fixture.client(transport).addApp(Self.registration(isPublic: true), replace: false) {
            Issue.record("a public client was asked for a secret")
            return ""
        }
        #expect(app.isPublic && app.clientSecrets.isEmpty && app.supportsPKCE)
    }
}
