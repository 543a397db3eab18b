import FoundationEssentials
import Synchronization
import Testing
import UPVault
import UPVaultTesting

@testable import UPVaultOAuth
@testable import UPVaultSandbox

/// The bytes on the wire of a token request, both ends: the client's form encoding and the sandbox's form
/// decoding and JSON quoting. Each has a fast path for the usual case (tokens need no escaping) beside
/// the general one; these tests hold both to the same answers.
@Suite struct WireEncodingTests {
    /// Texts that take each path: plain tokens, every reserved character, spaces and `+`, control
    /// characters, quotes and backslashes, non-ASCII, an empty one.
    static let samples = [
        "dGhpcyBpcyBhIHRva2Vu-_.~", "a+b c&d=e%f", "quote\"back\\slash", "line\nfeed\ttab\r\u{01}\u{1F}",
        "grüße 🔑", "", "100%", "%zz%2", "=&=",
    ]

    @Test func aFormIsPercentEncodedOutsideTheUnreservedSet() {
        #expect(FormEncoding.escape("AZaz09-._~") == "AZaz09-._~")
        #expect(FormEncoding.escape("a b+c&d=é") == "a%20b%2Bc%26d%3D%C3%A9")
        let fields = [("grant_type", "refresh_token"), ("refresh_token", "r/t+1="), ("client_id", "c")]
        let form = "grant_type=refresh_token&refresh_token=r%2Ft%2B1%3D&client_id=c"
        #expect(FormEncoding.encode(fields) == form)
        #expect(FormEncoding.encodedBytes(fields) == Array(form.utf8))
        #expect(FormEncoding.encodedBytes([]) == [])
    }

    /// What the client encodes, the sandbox decodes to the same text, for fixed and random values.
    @Test func theSandboxDecodesWhatTheClientEncodes() {
        var generator = SeededGenerator(seed: 11)
        var values = Self.samples
        for _ in 0..<500 {
            let length = Int.random(in: 0..<40, using: &generator)
            let scalars = (0..<length).map { _ in
                Unicode.Scalar(UInt32.random(in: 1..<0x2FF, using: &generator)).map(Character.init) ?? "x"
            }
            values.append(String(scalars))
        }
        for value in values {
            let form = FormEncoding.encode([("refresh_token", value), ("client_secret", value)])
            let decoded = TokenParameters.decodeForm(form)
            #expect(decoded.refreshToken == value, "\(value.debugDescription)")
            #expect(decoded.clientSecret == value)
        }
    }

    @Test func theSandboxReadsAFormAsSentByHand() {
        let parameters = TokenParameters.decodeForm(
            "grant_type=refresh_token&refresh_token=a+b%2Bc%3d&code=%E2%9C%93")
        #expect(parameters.grantType == "refresh_token")
        #expect(parameters.refreshToken == "a b+c=")
        #expect(parameters.code == "✓")
        // A broken escape ends the value where it breaks (no crash, no guessing).
        #expect(TokenParameters.decodeForm("code=ab%2").code == "ab")
        #expect(TokenParameters.decodeForm("code=ab%zz").code == "ab")
        #expect(TokenParameters.decodeForm("code=ab%+1").code == "ab")
    }

    /// The sandbox's JSON reads back as the text it was given, whichever path quoted it.
    @Test func theSandboxQuotesJSONStringsExactly() throws {
        for value in Self.samples {
            let text = JSON.object(["value": .string(value), "other": .number(7)]).serialized
            let object = try JSONDecoder().decode([String: JSONValue].self, from: Data(text.utf8))
            #expect(object["value"] == .string(value), "\(text)")
        }
        #expect(JSON.string("plain-token").serialized == "\"plain-token\"")
        #expect(JSON.string("a\"b\\c\n\u{01}").serialized == #""a\"b\\c\n\u0001""#)
    }

    /// The secret's fingerprint is the first 8 bytes of SHA-256(client_id ‖ secret) in lower-case hex.
    @Test func aFingerprintIsKnown() {
        #expect(App.ClientSecret(value: "secret-1", addedAt: 0).fingerprint(clientID: "client-1") == "a456bbcd0934553a")
    }

    /// The endpoint check remembers what passed, and nothing else: a refused URL is refused every time,
    /// also after the memory has filled and been emptied.
    @Test func theEndpointCheckRemembersOnlyWhatPassed() throws {
        for round in 0..<3 {
            for index in 0..<100 {
                try EndpointPolicy.check("https://provider-\(index).example/token")
                try EndpointPolicy.check("http://127.0.0.1:\(1000 + index)/token")
                #expect(throws: OAuthError.self, "round \(round)") {
                    try EndpointPolicy.check("http://provider-\(index).example/token")
                }
            }
        }
        // A redirect received carries its code in the query: checked, never kept.
        let redirect = "http://127.0.0.1:8123/callback?code=secret-code&state=s"
        try EndpointPolicy.check(redirect)
        #expect(EndpointPolicy.remembered.withLock { !$0.contains(redirect) })
        #expect(EndpointPolicy.remembered.withLock { $0.count <= 64 })
    }
}

/// A JSON string or number, for reading the sandbox's output back.
enum JSONValue: Decodable, Equatable {
    case string(String)
    case number(Int)

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .string(text)
        } else {
            self = .number(try container.decode(Int.self))
        }
    }
}
