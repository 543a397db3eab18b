import Testing
import UPVaultTesting

@testable import UPVault

func hex(_ string: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var iterator = string.filter { !$0.isWhitespace }.makeIterator()
    while let high = iterator.next(), let low = iterator.next() {
        bytes.append(UInt8(String([high, low]), radix: 16)!)
    }
    return bytes
}

func hexString(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

/// Known answers of libsodium's primitives, through our wrappers.
@Suite struct CryptoKnownAnswerTests {
    /// draft-irtf-cfrg-xchacha-03, appendix A.3.1.
    @Test func xchacha20Poly1305MatchesTheDraftVector() throws {
        let key = SecureBytes(copying: hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"))
        let nonce = hex("404142434445464748494a4b4c4d4e4f5051525354555657")
        let ad = hex("50515253c0c1c2c3c4c5c6c7")
        let plaintext = Array(
            "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it."
                .utf8)
        let expected =
            hex(
                """
                bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c2\
                16cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e
                """) + hex("c0875924c1c7987947deafd8780acf49")
        let sealed = plaintext.withUnsafeBytes {
            XChaCha20Poly1305.seal($0, nonce: nonce, associatedData: ad, using: key)
        }
        #expect(sealed == expected)

        var opened = [UInt8](repeating: 0, count: plaintext.count)
        let ok = sealed.withUnsafeBytes { c in
            nonce.withUnsafeBytes { n in
                opened.withUnsafeMutableBytes { o in
                    XChaCha20Poly1305.open(c, nonce: n, associatedData: ad, using: key, into: o)
                }
            }
        }
        #expect(ok)
        #expect(opened == plaintext)

        var tampered = sealed
        tampered[3] ^= 1
        let rejected = tampered.withUnsafeBytes { c in
            nonce.withUnsafeBytes { n in
                opened.withUnsafeMutableBytes { o in
                    XChaCha20Poly1305.open(c, nonce: n, associatedData: ad, using: key, into: o)
                }
            }
        }
        #expect(!rejected)
        #expect(opened.allSatisfy { $0 == 0 }, "a failed open wipes its output")
    }

    /// libsodium test/default/pwhash_argon2id.c, first vector (ops 5, 7256678 bytes, 155-byte output).
    @Test func argon2idMatchesLibsodiumsVector() throws {
        let passphrase = SecureBytes(
            copying: hex(
                """
                a347ae92bce9f80f6f595a4480fc9c2fe7e7d7148d371e9487d75f5c23008ffae065577a928febd9b1973a5a95073acdbeb6a030cfc0d79caa2dc5cd011cef02c08da232d76d52dfbca38ca8dcbd665b17d1665f7cf5fe59772ec909733b24de97d6f58d220b20c60d7c07ec1fd93c52c31020300c6c1facd77937a597c7a6
                """))
        #expect(passphrase.count == 127)
        let salt = Array(hex("5541fbc995d5c197ba290346d2c559dedf405cf97e5f95482143202f9e74f5c2").prefix(16))
        let output = try Argon2id.deriveKey(
            from: passphrase, salt: salt, parameters: KDFParameters(opsLimit: 5, memLimit: 7_256_678),
            outputByteCount: 155)
        let expected = """
            18acec5d6507739f203d1f5d9f1d862f7c2cdac4f19d2bdff64487e60d969e3ced615337b9eec6ac4461c6ca07f0939741e57c24d0005c7ea171a0ee1e7348249d135b38f222e4dad7b9a033ed83f5ca27277393e316582033c74affe2566a2bea47f91f0fd9fe49ece7e1f79f3ad6e9b23e0277c8ecc4b313225748dd2a80f5679534a0700e246a79a49b3f74eb89ec6205fe1eeb941c73b1fcf1
            """
        #expect(output.withUnsafeBytes { hexString($0) } == expected)
    }

    /// libsodium test/default/kdf.c: master key 00..1f, context "KDF test", subkeys 0 and 1 (64 bytes),
    /// and subkey 16 at 16 bytes.
    @Test func subkeyDerivationMatchesLibsodiumsVectors() {
        let master = SecureBytes(copying: (0..<32).map { UInt8($0) })
        let context = Array("KDF test".utf8)
        let first = KeyDerivation.deriveSubkey(id: 0, context: context, byteCount: 64, from: master)
        #expect(
            first.withUnsafeBytes { hexString($0) }
                == "a0c724404728c8bb95e5433eb6a9716171144d61efb23e74b873fcbeda51d8071b5d70aae12066dfc94ce943f145aa176c055040c3dd73b0a15e36254d450614"
        )
        let second = KeyDerivation.deriveSubkey(id: 1, context: context, byteCount: 64, from: master)
        #expect(
            second.withUnsafeBytes { hexString($0) }
                == "02507f144fa9bf19010bf7c70b235b4c2663cc00e074f929602a5e2c10a780757d2a3993d06debc378a90efdac196dd841817b977d67b786804f6d3cd585bab5"
        )
        let short = KeyDerivation.deriveSubkey(id: 16, context: context, byteCount: 16, from: master)
        #expect(short.withUnsafeBytes { hexString($0) } == "a529216624ef9161e4cf117272aafff2")
    }

    @Test func paddingRoundTripsAndRejectsGarbage() {
        for length in [0, 1, 63, 64, 65, 200] {
            var buffer = [UInt8](repeating: 0xAB, count: Padding.paddedLength(length, blockSize: 64))
            let padded = buffer.withUnsafeMutableBytes { Padding.pad($0, length: length, blockSize: 64) }
            #expect(padded == buffer.count && padded % 64 == 0 && padded > length)
            #expect(buffer.withUnsafeBytes { Padding.unpaddedLength($0, blockSize: 64) } == length)
        }
        let zeros = [UInt8](repeating: 0, count: 64)
        #expect(zeros.withUnsafeBytes { Padding.unpaddedLength($0, blockSize: 64) } == nil)
        // The marker must be the last non-zero byte and inside the last block (sodium_unpad's rule).
        func unpad(_ bytes: [UInt8]) -> Int? { bytes.withUnsafeBytes { Padding.unpaddedLength($0, blockSize: 64) } }
        var buffer = [UInt8](repeating: 0x41, count: 128)
        buffer[64...] = ArraySlice(repeating: 0, count: 64)
        #expect(unpad(buffer) == nil)  // the last block all zeros, data before it
        buffer[64] = 0x80
        #expect(unpad(buffer) == 64)
        buffer[127] = 0x01
        #expect(unpad(buffer) == nil)  // a non-zero byte after the marker
        buffer[127] = 0x80
        #expect(unpad(buffer) == 127)
        buffer[127] = 0x81
        #expect(unpad(buffer) == nil)
        #expect(unpad([UInt8](repeating: 0x80, count: 63)) == nil)  // not a whole block
    }

    @Test func secureBytesComparesInConstantTimeAndCopies() {
        let a = SecureBytes(copying: [1, 2, 3])
        let b = a.duplicate()
        let same = a.isEqual(to: b)
        let differentByte = a.isEqual(to: SecureBytes(copying: [1, 2, 4]))
        let differentLength = a.isEqual(to: SecureBytes(copying: [1, 2]))
        let randomCount = SecureBytes.random(count: 32).count
        let randomEqual = SecureBytes.random(count: 32).isEqual(to: SecureBytes.random(count: 32))
        #expect(same && !differentByte && !differentLength)
        #expect(randomCount == 32 && !randomEqual)
    }
}
