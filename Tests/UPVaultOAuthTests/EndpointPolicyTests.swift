import Testing
import UPVaultTesting

@testable import UPVaultOAuth

@Suite struct EndpointPolicyTests {
    @Test(arguments: [
        "https://jawbone.com/auth/oauth2/token", "http://127.0.0.1:8080/token", "http://localhost/cb",
        "http://[::1]:9000/cb", "http://127.1.2.3/x",
    ])
    func accepted(_ url: String) throws {
        try EndpointPolicy.check(url)
    }

    @Test(arguments: [
        "http://jawbone.com/auth/oauth2/token", "http://127.0.0.1.evil.example/cb", "http://localhost.evil.example/",
        "ftp://127.0.0.1/x", "javascript:alert(1)", "https://", "//jawbone.com/x", "http://10.0.0.1/x",
        "http://128.0.0.1/", "http://127.0.0.256/",
    ])
    func refused(_ url: String) {
        #expect(throws: OAuthError.self) { try EndpointPolicy.check(url) }
    }

    @Test func apiPathsCannotLeaveTheAPIBase() throws {
        let base = "https://jawbone.com/nudge/api/v.1.1/"
        #expect(try OAuthClient.apiURL(base: base, path: "users/@me") == base + "users/@me")
        #expect(
            try OAuthClient.apiURL(base: base, path: "/users/@me/moves?limit=1") == base + "users/@me/moves?limit=1")
        // kiefer's double slash is not repeated.
        #expect(
            try OAuthClient.apiURL(base: "https://jawbone.com/nudge/api/v.1.1", path: "/users/@me") == base
                + "users/@me")
        for hostile in [
            "https://evil.example/steal", "//evil.example/x", "../../auth/oauth2/token", "users/./@me",
            "users//@me", "users/@me#x", "users/@me\r\nX: y", "users\\@me", "",
            "%2e%2e/%2e%2e/auth/oauth2/token", "users/%2E%2e/x", "users/%2e/@me", ".%2e/x",
        ] {
            #expect(throws: OAuthError.self, "\(hostile)") { try OAuthClient.apiURL(base: base, path: hostile) }
        }
    }
}
