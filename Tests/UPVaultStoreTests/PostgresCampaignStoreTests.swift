import Testing
import UPVaultTesting

@testable import UPVault
@testable import UPVaultPostgres

/// The database vault's campaign tables beside its key management.
@Suite(.enabled(if: TestCluster.isAvailable, "\(TestCluster.unavailable)"))
struct PostgresCampaignStoreTests {
    /// A re-key changes every name hash, and a campaign's items name grants by name hash: while one runs,
    /// re-key is refused (busy) and changes nothing; once it is over, it goes ahead.
    @Test func rekeyWaitsForTheRunningCampaign() throws {
        let fixture = try StoreFixture(.postgres)
        let vault = try #require(fixture.store as? PostgresVault)
        try vault.setSecret(secure("alpha value"), named: "alpha")
        let ticket = try vault.joinCampaign(options: Array("{}".utf8), startedAt: 1) { ["up/alice", "up/bob"] }
        #expect(throws: PostgresStoreError.campaignRunning(id: ticket.id)) {
            _ = try vault.rekey(passphrase: secure("another passphrase"), kdf: testKDF, withRecoveryKey: false)
        }
        #expect(PostgresStoreError.campaignRunning(id: ticket.id).category == .busy)
        #expect(text(try fixture.open().secret(named: "alpha")) == "alpha value", "the old key still opens it")

        let claims = try vault.claim(ticket.id, worker: "w", count: 10, lease: .seconds(30))
        #expect(claims.count == 2)
        try vault.record(
            ticket.id, worker: "w", outcomes: claims.map { CampaignResult(item: $0.item, outcome: .skipped) })
        #expect(try vault.finishCampaign(ticket.id))
        _ = try vault.rekey(passphrase: secure("another passphrase"), kdf: testKDF, withRecoveryKey: false)
        #expect(text(try fixture.open(passphrase: "another passphrase").secret(named: "alpha")) == "alpha value")
    }
}
