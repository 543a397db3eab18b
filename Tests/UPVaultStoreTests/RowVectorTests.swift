import Foundation
import Testing
import UPVaultTesting

@testable import UPVault

/// `Vault/vectors/rows.json`: a header row and entry rows made with deterministic test-only randomness,
/// with the master key and every input, so a third party can check a reader of Vault/ROWS.md against
/// them. Re-made byte for byte on every run; `UPVAULT_WRITE_VECTORS=1` rewrites the file.
@Suite struct RowVectorTests {
    struct Vectors: Codable, Equatable {
        var description: String
        var passphrase: String
        var kdf: [String: UInt64]
        var masterKey: String
        var vaultID: String
        var header: String
        var rows: [Row]

        struct Row: Codable, Equatable {
            var kind: UInt8
            var name: String
            var value: String
            var nameHash: String
            var version: Int64
            var nonce: String
            var ciphertext: String
            var lockID: Int64

            enum CodingKeys: String, CodingKey {
                case kind, name, value, version, nonce, ciphertext
                case nameHash = "name_hash"
                case lockID = "lock_id"
            }
        }

        enum CodingKeys: String, CodingKey {
            case description, passphrase, kdf, header, rows
            case masterKey = "master_key"
            case vaultID = "vault_id"
        }
    }

    static let file = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Vault/vectors/rows.json")
    static let passphrase = "correct horse battery staple"
    static let entries: [(EntryKey, String, Int64)] = [
        (EntryKey(.secret, "alpha"), "alpha value", 1),
        (EntryKey(.app, "jawbone"), #"{"client_id":"c1","name":"jawbone"}"#, 2),
        (EntryKey(.grant, "jawbone/alice"), #"{"access_token":"at-1","app":"jawbone","user":"alice"}"#, 7),
    ]

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func make() throws -> Vectors {
        try Random.withDeterministicRandomness(seed: 0x52) {
            let (header, keys) = try RowHeader.create(
                passphrase: secure(passphrase), kdf: KDFParameters(opsLimit: 1, memLimit: 8 << 20),
                createdAt: 1_396_828_800)
            let rows = try entries.map { key, value, version in
                let row = try Array(value.utf8).withUnsafeBytes { bytes in
                    try SealedRow.seal(key, value: bytes, version: version, vaultID: header.vaultID, keys: keys)
                }
                return Vectors.Row(
                    kind: key.kind.rawValue, name: key.name, value: value, nameHash: hex(row.nameHash),
                    version: row.version, nonce: hex(row.nonce), ciphertext: hex(row.ciphertext),
                    lockID: keys.lockID(of: key))
            }
            return Vectors(
                description: "a vault in rows (Vault/ROWS.md): its header row and three entry rows",
                passphrase: passphrase, kdf: ["opslimit": 1, "memlimit_bytes": 8 << 20],
                masterKey: hex(keys.masterKey.withUnsafeBytes { Array($0) }), vaultID: hex(header.vaultID),
                header: hex(header.encoded(keys: keys)), rows: rows)
        }
    }

    static func unhex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    @Test func theVectorsAreRemadeByteForByte() throws {
        let made = try Self.make()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        if ProcessInfo.processInfo.environment["UPVAULT_WRITE_VECTORS"] == "1" {
            try (encoder.encode(made) + Data("\n".utf8)).write(to: Self.file)
        }
        let stored = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: Self.file))
        #expect(stored == made)
    }

    @Test func theStoredVectorsReadAsTheFormatSays() throws {
        let stored = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: Self.file))
        let headerBytes = Self.unhex(stored.header)
        let header = try RowHeader.decode(headerBytes)
        let keys = try header.unlock(passphrase: secure(stored.passphrase), limits: .default, bytes: headerBytes)
        #expect(Self.hex(keys.masterKey.withUnsafeBytes { Array($0) }) == stored.masterKey)
        #expect(Self.hex(header.vaultID) == stored.vaultID)
        var scratch = SecureBytes(count: 64)
        for row in stored.rows {
            let sealed = try SealedRow(
                kindCode: Int16(row.kind), nameHash: Self.unhex(row.nameHash), version: row.version,
                nonce: Self.unhex(row.nonce), ciphertext: Self.unhex(row.ciphertext))
            let key = EntryKey(sealed.kind, row.name)
            #expect(keys.nameHash(of: key) == sealed.nameHash)
            #expect(keys.lockID(of: key) == row.lockID)
            let value = try sealed.open(vaultID: header.vaultID, keys: keys, expected: key, scratch: &scratch) {
                (_, value) throws(VaultError) in String(decoding: value, as: UTF8.self)
            }
            #expect(value == row.value)
            var moved = sealed
            moved.version += 1
            #expect(throws: VaultError.self, "the version is in the associated data") {
                try moved.open(vaultID: header.vaultID, keys: keys, scratch: &scratch) { _, _ throws(VaultError) in }
            }
        }
    }
}
