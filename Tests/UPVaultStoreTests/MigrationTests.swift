import Foundation
import Testing
import UPVaultTesting

@testable import UPVault
@testable import UPVaultPostgres

/// `upvault migrate`, file to PostgreSQL and back.
@Suite(.enabled(if: TestCluster.isAvailable, "\(TestCluster.unavailable)"))
struct MigrationTests {
    /// Every entry of every kind, as bytes.
    static func everything(_ store: any EntrySource) throws -> [EntryKey: [UInt8]] {
        var result: [EntryKey: [UInt8]] = [:]
        for kind in EntryKind.allCases {
            try store.forEachEntry(of: kind) { name, value in result[EntryKey(kind, name)] = Array(value) }
        }
        return result
    }

    @Test func aRoundTripPreservesEveryEntryByteForByte() throws {
        let directory = TemporaryDirectory(prefix: "upvault-migrate")
        let original = try Vault.create(
            at: directory.file("vault.upv"), passphrase: secure(testPassphrase), kdf: testKDF)
        let recovery = try original.addRecoveryKey()
        var random = SeededGenerator(seed: 11)
        try original.write { transaction in
            for index in 0..<1_200 {
                let count = index == 0 ? 1 << 20 : Int.random(in: 0...300, using: &random)
                let value = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
                let kind: EntryKind = [.secret, .app, .grant][index % 3]
                let name = kind == .grant ? "app\(index % 7)/user\(index)" : "entry-\(index)"
                try transaction.put(EntryKey(kind, name), value: SecureBytes(copying: value))
            }
        }
        let before = try Self.everything(original)
        let fileBytes = try Data(contentsOf: URL(fileURLWithPath: original.path))
        let location = try TestCluster.location()
        defer { TestCluster.dropSchema(location) }

        let there = try VaultMigration.migrate(original, to: .postgres(location))
        #expect(there.verified && there.secrets == 400 && there.apps == 400 && there.grants == 400)
        let inDatabase = try PostgresVault.open(at: location, passphrase: secure(testPassphrase), limits: testLimits)
        #expect(try Self.everything(inDatabase) == before)
        #expect(try Self.everything(PostgresVault.open(at: location, recoveryKey: recovery)) == before)
        #expect(try Data(contentsOf: URL(fileURLWithPath: original.path)) == fileBytes, "the source is left as it was")

        let back = directory.file("again/vault.upv")
        let report = try VaultMigration.migrate(inDatabase, to: .file(back))
        #expect(report.verified)
        let file = try Vault.open(at: back, passphrase: secure(testPassphrase), limits: testLimits)
        #expect(try Self.everything(file) == before)
        #expect(try file.statistics().entryCounts[.grant] == 400)
        #expect(try Self.everything(Vault.open(at: back, recoveryKey: recovery)) == before)

        #expect(throws: VaultError.vaultExists(path: location.description), "never into an existing vault") {
            try VaultMigration.migrate(original, to: .postgres(location))
        }
        #expect(throws: VaultError.vaultExists(path: back)) { try VaultMigration.migrate(inDatabase, to: .file(back)) }
    }
}
