import Testing
import UPVaultSandbox

/// The sandbox registers redirect URIs and compares them whole (RFC 9700 §2.1), with RFC 8252 §7.3's
/// any-port rule for loopback IP literals only.
@Suite struct SandboxRedirectTests {
    static let registered = [
        "https://localhost/callback", "http://127.0.0.1/cb", "http://[::1]/cb", "https://example.com",
    ]

    @Test(arguments: [
        "https://localhost/callback", "http://127.0.0.1/cb", "http://127.0.0.1:49152/cb", "http://127.0.0.1:1/cb",
        "http://[::1]:8080/cb", "https://example.com",
    ])
    func accepted(_ uri: String) {
        #expect(RedirectMatching.isRegistered(uri, in: Self.registered))
    }

    @Test(arguments: [
        "https://localhost/callbackEVIL/x", "https://localhost/callback/", "https://localhost/callback?x=1",
        "https://localhost/callback#frag", "https://localhost:8443/callback", "http://localhost/callback",
        "https://localhost.evil.net/callback", "https://localhost@evil.net/callback", "HTTPS://localhost/callback",
        "https://example.com.evil.net/", "https://example.com@evil.net/", "https://example.com:444",
        "https://example.com/", "http://127.0.0.1:49152/cbX", "http://127.0.0.1:49152/cb/../x",
        "http://127.0.0.1:0/cb", "http://127.0.0.1:65536/cb", "http://127.0.0.1:+80/cb", "http://127.0.0.1:/cb",
        "http://127.0.0.1.evil.net:80/cb", "http://127.0.0.1@evil.net/cb", "https://127.0.0.1:80/cb",
        "http://127.0.0.2:80/cb", "http://[::1]:80/cbX", "",
    ])
    func refused(_ uri: String) {
        #expect(!RedirectMatching.isRegistered(uri, in: Self.registered))
    }

    @Test func aRegisteredLoopbackRedirectWithAPortMatchesOnlyThatPort() {
        #expect(RedirectMatching.isRegistered("http://127.0.0.1:8080/cb", in: ["http://127.0.0.1:8080/cb"]))
        #expect(!RedirectMatching.isRegistered("http://127.0.0.1:8081/cb", in: ["http://127.0.0.1:8080/cb"]))
    }
}
