import Foundation
import Testing
import UPVault
import UPVaultTesting

@testable import UPVaultOAuth

/// Token endpoint answers are hostile input: every shape is an answer or a typed error, never a crash.
@Suite struct ResponseParsingTests {
    @Test func jawboneTokenJSON() throws {
        let response = try TokenResponse.parse(json(200, tokenJSON))
        #expect(response.accessToken == "new-access" && response.refreshToken == "new-refresh")
        #expect(response.expiresIn == 31_536_000 && response.tokenType == "Bearer" && response.scope == nil)
    }

    /// The answer is read without JSONDecoder when it is plain; whatever that reading accepts,
    /// JSONDecoder reads the same, and what it leaves alone still parses as before.
    @Test func theFastReadingAgreesWithJSONDecoder() throws {
        let plain = [
            tokenJSON, #"{"access_token": "a", "expires_in": "3600", "x": {"nested": [1, {"y": null}]}}"#,
            #"{"access_token": "a", "expires_in": 3600.9, "scope": "read write", "refresh_token": null}"#,
            #"{"error": "invalid_grant", "error_description": "gone\u0007"}"#, #" { } "#,
        ]
        for text in plain {
            let fast = try #require(TokenJSON(reading: Array(text.utf8)), "\(text)")
            #expect(try JSONDecoder().decode(TokenJSON.self, from: Data(text.utf8)) == fast, "\(text)")
        }
        let left = [
            #"{"access_token": "a", "access_token": "b"}"#, #"{"access_token": 5}"#, #"{"expires_in": true}"#,
            #"{"access_token": "a"} trailing"#, #"{"expires_in": "soon"}"#, "[1]",
        ]
        for text in left { #expect(TokenJSON(reading: Array(text.utf8)) == nil, "\(text)") }
        #expect(try TokenResponse.parse(json(200, #"{"access_token": "a", "expires_in": "60"}"#)).expiresIn == 60)
    }

    @Test(arguments: [
        (
            json(200, #"{"error": "invalid_grant"}"#),
            OAuthError.providerError(code: "invalid_grant", reason: "no description", httpStatus: 200)
        ),
        (
            json(400, #"{"error": "invalid_client", "error_description": "bad\u0007secret"}"#),
            OAuthError.providerError(code: "invalid_client", reason: "bad?secret", httpStatus: 400)
        ),
        (json(503, "<html>Service Unavailable</html>"), OAuthError.providerUnavailable(httpStatus: 503)),
        (json(429, "slow down", headers: [("Retry-After", " 7 ")]), OAuthError.rateLimited(retryAfter: 7)),
        (json(200, #"{"error": "temporarily_unavailable"}"#), OAuthError.providerUnavailable(httpStatus: 200)),
        (
            json(200, #"{"token_type": "Bearer"}"#),
            OAuthError.unexpectedResponse(httpStatus: 200, reason: "no access_token")
        ),
        (
            json(200, #"{"access_token": "a b"}"#),
            OAuthError.unexpectedResponse(httpStatus: 200, reason: "malformed access_token")
        ),
        (
            json(200, #"{"access_token": ""}"#),
            OAuthError.unexpectedResponse(httpStatus: 200, reason: "malformed access_token")
        ),
        (
            json(200, #"{"access_token": "a", "expires_in": -5}"#),
            OAuthError.unexpectedResponse(httpStatus: 200, reason: "expires_in out of range")
        ),
        (
            json(200, #"{"access_token": "a", "expires_in": 1e300}"#),
            OAuthError.unexpectedResponse(httpStatus: 200, reason: "the body is not the expected JSON")
        ),
        (
            json(200, #"{"access_token": "a", "token_type": "Bearer\r\nX"}"#),
            OAuthError.unexpectedResponse(httpStatus: 200, reason: "malformed token_type")
        ),
        (json(302, ""), OAuthError.unexpectedResponse(httpStatus: 302, reason: "the body is not the expected JSON")),
        (
            json(200, "[1,2,3]"),
            OAuthError.unexpectedResponse(httpStatus: 200, reason: "the body is not the expected JSON")
        ),
    ])
    func errorsAndMalformedAnswers(result: HTTPResult, expected: OAuthError) {
        #expect(throws: expected) { try TokenResponse.parse(result) }
    }

    @Test func randomBytesNeverCrashTheParsers() {
        var generator = SystemRandomNumberGenerator()
        let fragments = [
            #"{"#, #"}"#, #"""#, "access_token", "error", ":", ",", "1e999", "null", "[", "]", "\\u0000", "\u{FFFF}",
        ]
        for round in 0..<3000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0..<64, using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
            } else {
                bytes = Array(
                    (0..<Int.random(in: 0..<24, using: &generator)).map { _ in
                        fragments.randomElement(using: &generator)!
                    }.joined().utf8)
            }
            _ = try? TokenResponse.parse(HTTPResult(status: Int.random(in: 100..<600), headers: [], body: bytes))
            _ = try? KieferConfig.parse(bytes)
        }
    }
}
