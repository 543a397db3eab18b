import Foundation
import Testing
import UPVaultTesting

@testable import UPVault

/// The golden files in Vault/vectors: made with deterministic test-only randomness, decoded on every
/// run, and re-made byte for byte (so a change to the writer that changes the format cannot pass
/// unnoticed). `UPVAULT_WRITE_VECTORS=1 swift test --filter GoldenVectorTests` rewrites them.
@Suite(.serialized) struct GoldenVectorTests {
    struct Vector: Codable, Equatable {
        var file: String
        var description: String
        var passphrase: String
        var recoveryKey: String?
        var kdf: KDF
        var generation: UInt64
        var records: UInt64
        /// "secret/NAME" → UTF-8 value; "app/NAME" and "grant/APP/USER" → the entry's JSON
        /// ("refresh_run/NAME" for kind 4; FORMAT.md, "Test vectors").
        var entries: [String: String]

        struct KDF: Codable, Equatable {
            var opslimit: UInt64
            var memlimitBytes: UInt64

            enum CodingKeys: String, CodingKey {
                case opslimit
                case memlimitBytes = "memlimit_bytes"
            }
        }

        enum CodingKeys: String, CodingKey {
            case file, description, passphrase, kdf, generation, records, entries
            case recoveryKey = "recovery_key"
        }
    }

    /// The key of an entry in `entries`.
    static func entryKey(_ kind: EntryKind, _ name: String) -> String {
        switch kind {
        case .secret: "secret/" + name
        case .app: "app/" + name
        case .grant: "grant/" + name
        case .refreshRun: "refresh_run/" + name
        }
    }

    /// The cheapest cost the shipped bounds admit (1 pass, 8 MiB), so that upvault itself opens them.
    static let vectorKDF = KDFParameters(opsLimit: 1, memLimit: 8 << 20)
    static let kdf = Vector.KDF(opslimit: 1, memlimitBytes: 8 << 20)

    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Vault/vectors")
    static let createdAt: UInt64 = 1_396_828_800  // 2014-04-07, the day Heartbleed was disclosed
    static let passphrase = "correct horse battery staple"

    static func json<E: CodableEntry>(_ entry: E) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(entry), as: UTF8.self)
    }

    /// Makes the three vectors in `directory`; returns their descriptions.
    static func make(in directory: String) throws -> [Vector] {
        func create(_ name: String, seed: UInt8) throws -> Vault {
            try Random.withDeterministicRandomness(seed: seed) {
                try Vault.create(
                    at: directory + "/" + name, passphrase: secure(passphrase), kdf: vectorKDF, createdAt: createdAt,
                    anchors: .disabled, logger: Vault.silentLogger)
            }
        }
        var vectors: [Vector] = []

        _ = try create("empty.upv", seed: 1)
        vectors.append(
            Vector(
                file: "empty.upv", description: "a new vault: header with one passphrase slot, no records, the seal",
                passphrase: passphrase, kdf: kdf, generation: 1, records: 0, entries: [:]))

        let secrets = try create("entries.upv", seed: 2)
        try Random.withDeterministicRandomness(seed: 2) {
            try secrets.setSecret(secure("ghp_example"), named: "github-token")
            try secrets.write { (transaction) throws(VaultError) in
                try transaction.put(EntryKey(.secret, "db-password"), value: secure("hunter2"))
                try transaction.put(EntryTests.app)
                try transaction.put(EntryTests.grant)
            }
            try secrets.removeSecret(named: "github-token")
            try secrets.setSecret(secure("pässwörd ✓"), named: "unicode")
        }
        vectors.append(
            Vector(
                file: "entries.upv",
                description:
                    "one put, a batch of three (secret, app, grant), a delete, a put: six records in four batches",
                passphrase: passphrase, kdf: kdf, generation: 1, records: 6,
                entries: [
                    "secret/db-password": "hunter2", "secret/unicode": "pässwörd ✓",
                    "app/up": json(EntryTests.app), "grant/up/andy@example.com": json(EntryTests.grant),
                ]))

        let recovery = try create("recovery.upv", seed: 3)
        var recoveryText = ""
        try Random.withDeterministicRandomness(seed: 3) {
            recoveryText = RecoveryKeyText.format(try recovery.addRecoveryKey())
            try recovery.setSecret(secure("opened with either key"), named: "note")
        }
        vectors.append(
            Vector(
                file: "recovery.upv",
                description: "a passphrase slot and a recovery-key slot (added by a rewrite: generation 2), one record",
                passphrase: passphrase, recoveryKey: recoveryText, kdf: kdf, generation: 2, records: 1,
                entries: ["secret/note": "opened with either key"]))
        for name in ["empty.upv", "entries.upv", "recovery.upv"] {
            try? FileManager.default.removeItem(atPath: directory + "/" + name + ".lock")
        }
        return vectors
    }

    static func committedVectors() throws -> [Vector] {
        let data = try Data(contentsOf: directory.appendingPathComponent("vectors.json"))
        return try JSONDecoder().decode([Vector].self, from: data)
    }

    @Test func writeVectorsWhenAsked() throws {
        guard ProcessInfo.processInfo.environment["UPVAULT_WRITE_VECTORS"] == "1" else { return }
        let scratch = TemporaryDirectory()
        let vectors = try Self.make(in: scratch.path)
        for vector in vectors {
            let target = Self.directory.appendingPathComponent(vector.file).path
            try? FileManager.default.removeItem(atPath: target)
            try FileManager.default.copyItem(atPath: scratch.file(vector.file), toPath: target)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try (encoder.encode(vectors) + Data("\n".utf8)).write(to: Self.directory.appendingPathComponent("vectors.json"))
    }

    @Test func committedVectorsDecode() throws {
        let vectors = try Self.committedVectors()
        #expect(vectors.count == 3)
        for vector in vectors {
            let scratch = TemporaryDirectory()
            let path = scratch.file(vector.file)
            try FileManager.default.copyItem(
                atPath: Self.directory.appendingPathComponent(vector.file).path, toPath: path)
            // The shipped bounds (KDFLimits.default): the tool opens its own vectors.
            var openers: [() throws -> Vault] = [
                { try Vault.open(at: path, passphrase: secure(vector.passphrase), anchors: .disabled) }
            ]
            if let recovery = vector.recoveryKey {
                openers.append {
                    try Vault.open(
                        at: path, recoveryKey: try RecoveryKeyText.parse(secure(recovery)), anchors: .disabled)
                }
            }
            for open in openers {
                let vault = try open()
                let statistics = try vault.verify()
                #expect(statistics.generation == vector.generation)
                #expect(
                    statistics.kdf
                        == KDFParameters(opsLimit: UInt32(vector.kdf.opslimit), memLimit: vector.kdf.memlimitBytes))
                #expect(UInt64(statistics.recordCount) == vector.records)
                #expect(statistics.tornTail == nil)
                var found: [String: String] = [:]
                for kind in EntryKind.allCases {
                    for name in try vault.names(of: kind) {
                        found[Self.entryKey(kind, name)] = text(try vault.value(for: EntryKey(kind, name)))
                    }
                }
                #expect(found == vector.entries, "\(vector.file)")
            }
        }
    }

    @Test func theWriterReproducesTheVectorsByteForByte() throws {
        let scratch = TemporaryDirectory()
        let made = try Self.make(in: scratch.path)
        #expect(made == (try Self.committedVectors()))
        for vector in made {
            let committed = fileBytes(Self.directory.appendingPathComponent(vector.file).path)
            #expect(
                fileBytes(scratch.file(vector.file)) == committed,
                "\(vector.file) differs from what the writer makes now")
        }
    }
}
