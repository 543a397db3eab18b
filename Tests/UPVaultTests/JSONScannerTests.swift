import Foundation
import Testing
import UPVaultTesting

@testable import UPVault

/// The fast grant JSON must be exactly Foundation's: the same bytes out, the same grants in, and on
/// anything it does not accept, Foundation decides.
@Suite struct GrantJSONTests {
    static let awkward = [
        "", "plain", "quote\"d", "back\\slash", "sl/ash", "tab\tnew\nline\r", "\u{01}\u{1F}\u{7F}", "caf\u{E9}",
        "emoji 😀", "\u{2028}", "{\"json\": [1]}",
    ]

    static func randomGrant(_ generator: inout SeededGenerator) -> Grant {
        func text() -> String {
            if Bool.random(using: &generator) { return awkward.randomElement(using: &generator)! }
            let alphabet = Array("abcXYZ019-_./~+=\"\\ \u{E9}😀\n")
            return String(
                (0..<Int.random(in: 0...40, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
        }
        func maybe<T>(_ make: () -> T) -> T? { Bool.random(using: &generator) ? make() : nil }
        func number() -> Int64 {
            [
                0, 1, -1, Int64.max, Int64.min,
                Int64.random(in: -1_000_000_000_000...1_000_000_000_000, using: &generator),
            ]
            .randomElement(using: &generator)!
        }
        var grant = Grant(
            app: text(), user: text(), providerUserID: maybe(text), accessToken: text(), refreshToken: maybe(text),
            tokenType: text(), scope: maybe(text), issuedAt: number(), expiresAt: maybe(number),
            lastRefreshAt: maybe(number), secretFingerprint: maybe(text),
            status: [.active, .needsReauthorization, .revoked].randomElement(using: &generator)!,
            statusReason: maybe(text))
        grant.refreshStartedAt = maybe(number)
        grant.grantType = maybe { .clientCredentials }
        grant.revocationStartedAt = maybe(number)
        grant.revokedAt = maybe(number)
        grant.revocationEndpoint = maybe(text)
        grant.revocationStatus = maybe(number)
        grant.revocationError = maybe(text)
        return grant
    }

    static func foundation(_ grant: Grant) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(grant))
    }

    @Test func encodesTheBytesJSONEncoderWritesAndDecodesThemBack() throws {
        var generator = SeededGenerator(seed: 21)
        for _ in 0..<2000 {
            let grant = Self.randomGrant(&generator)
            let fast = grant.encodedJSON()
            #expect(fast == (try Self.foundation(grant)), "\(String(decoding: fast, as: UTF8.self))")
            #expect(fast.withUnsafeBytes { Grant.decodeJSON($0) } == grant)
        }
    }

    /// Whatever the fast decoder accepts, JSONDecoder accepts as the same grant: on damaged, cut and
    /// reshaped texts.
    @Test func acceptsNothingJSONDecoderWouldReadDifferently() throws {
        var generator = SeededGenerator(seed: 22)
        var accepted = 0
        for round in 0..<3000 {
            var bytes = Self.randomGrant(&generator).encodedJSON()
            switch round % 4 {
            case 0:
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            case 1: bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
            case 2: bytes.insert(contentsOf: Array(" \n\t".utf8).shuffled(using: &generator).prefix(1), at: 1)
            default: bytes += Array(" ".utf8)
            }
            guard let fast = bytes.withUnsafeBytes({ Grant.decodeJSON($0) }) else { continue }
            accepted += 1
            #expect((try? JSONDecoder().decode(Grant.self, from: Data(bytes))) == fast, "\(bytes)")
        }
        #expect(accepted > 1000)
        // Shapes the fast path leaves to Foundation: duplicates, nulls, unknown fields, other types.
        for text in [
            #"{"app":"a","app":"b","user":"u","access_token":"t","token_type":"B","issued_at":1,"status":"active"}"#,
            #"{"app":"a","user":"u","access_token":"t","token_type":"B","issued_at":1,"status":"active","scope":null}"#,
            #"{"app":"a","user":"u","access_token":"t","token_type":"B","issued_at":1,"status":"active","x":1}"#,
            #"{"app":"a","user":"u","access_token":"t","token_type":"B","issued_at":1.5,"status":"active"}"#,
            #"{"app":"a","user":"u","access_token":"t","token_type":"B","issued_at":1,"status":"odd"}"#,
        ] {
            #expect(Array(text.utf8).withUnsafeBytes { Grant.decodeJSON($0) } == nil, "\(text)")
        }
    }
}

@Suite struct JSONScannerTests {
    static func scalar(_ text: String) -> Result<JSONScanner.Scalar, JSONScanner.Failure> {
        Array(text.utf8).withUnsafeBytes { raw in
            var scanner = JSONScanner(raw)
            return Result { () throws(JSONScanner.Failure) in try scanner.readScalar() }
        }
    }

    @Test func numbersFollowTheGrammar() {
        #expect(Self.scalar("0,") == .success(.integer(0)))
        #expect(Self.scalar("-12 ") == .success(.integer(-12)))
        #expect(Self.scalar("9223372036854775807]") == .success(.integer(.max)))
        #expect(Self.scalar("9223372036854775808]") == .success(.number(9_223_372_036_854_775_808)))
        #expect(Self.scalar("1.5e3}") == .success(.number(1500)))
        for bad in ["01,", "-,", "1.,", "1e,", ".5,", "+1,", "--1,"] {
            guard case .failure(.malformed) = Self.scalar(bad) else {
                Issue.record("\(bad) accepted")
                continue
            }
        }
    }

    @Test func stringsDecodeEscapesAndRefuseWhatJSONForbids() {
        #expect(Self.scalar(#""a\"b\\c\/d\n\u00e9\ud83d\ude00""#) == .success(.string("a\"b\\c/d\né😀")))
        for bad in [#""\ud83d""#, #""\ude00""#, #""\x""#, "\"tab\there\"", #""\u12g4""#] {
            guard case .failure(.malformed) = Self.scalar(bad) else {
                Issue.record("\(bad) accepted")
                continue
            }
        }
        #expect(
            Array([0x22, 0xC3, 0x28, 0x22]).withUnsafeBytes { raw in
                var scanner = JSONScanner(raw)
                return (try? scanner.readString()) == nil
            })
    }

    /// Every cut of a document inside its value is `truncated`, never `malformed`: a streaming reader
    /// can always tell "read more" from "refuse".
    @Test func everyCutIsTruncatedNotMalformed() {
        let document =
            #"{"a": [1, -2.5e3, {"b": "x\"y\u00e9\ud83d\ude00"}], "t": true, "f": false, "n": null, "s": "end"}"#
        let bytes = Array(document.utf8)
        for length in 0..<bytes.count {
            let failure = Array(bytes.prefix(length)).withUnsafeBytes { raw -> JSONScanner.Failure? in
                var scanner = JSONScanner(raw)
                do throws(JSONScanner.Failure) {
                    try scanner.readObject { _, _ in }
                    return nil
                } catch {
                    return error
                }
            }
            #expect(failure == .truncated, "cut at \(length)")
        }
        var fields: [String] = []
        bytes.withUnsafeBytes { raw in
            var scanner = JSONScanner(raw)
            #expect((try? scanner.readObject { key, _ in fields.append(key) }) != nil)
        }
        #expect(fields == ["a", "t", "f", "n", "s"])
    }

    @Test func nestingIsBounded() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        guard case .failure(.malformed) = Self.scalar(deep) else {
            Issue.record("100 levels accepted")
            return
        }
        #expect(
            Self.scalar(String(repeating: "[", count: 10) + String(repeating: "]", count: 10) + ",")
                == .success(.nested))
    }
}
