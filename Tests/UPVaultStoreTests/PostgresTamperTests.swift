import Foundation
import PostgresNIO
import Testing
import UPVaultTesting

@testable import UPVault
@testable import UPVaultPostgres

/// What someone with the database can try behind upvault's back, and the error each attempt meets:
/// the file vault's error classes (`VaultError.integrity`), never a wrong value.
@Suite(.enabled(if: TestCluster.isAvailable, "\(TestCluster.unavailable)"))
struct PostgresTamperTests {
    let fixture: StoreFixture
    var vault: PostgresVault { fixture.store as! PostgresVault }
    var entries: String { "\"\(fixture.location!.schema)\".entries" }
    var headerTable: String { "\"\(fixture.location!.schema)\".header" }

    init() throws {
        fixture = try StoreFixture(.postgres)
        try fixture.store.setSecret(secure("alpha value"), named: "alpha")
        try fixture.store.setSecret(secure("beta value"), named: "beta")
    }

    func hash(_ name: String) throws -> [UInt8] {
        try vault.current().keys.nameHash(of: EntryKey(.secret, name))
    }

    func sql(_ statement: PostgresQuery) throws {
        try TestCluster.sql(fixture.location!) { link in try link.execute(statement) }
    }

    func row(_ name: String) throws -> (version: Int64, nonce: [UInt8], ciphertext: [UInt8]) {
        var result: (Int64, [UInt8], [UInt8])?
        let hash = try hash(name)
        try TestCluster.sql(fixture.location!) { link in
            let row = try #require(
                try link.query(
                    "SELECT version, nonce, ciphertext FROM \(unescaped: entries) WHERE name_hash = \(hash.bytea)"
                ).randomAccessRows.first)
            result = (try row[0].decode(Int64.self), try row[1].bytes(), try row[2].bytes())
        }
        return try #require(result)
    }

    @Test func theDatabaseHoldsNoNameAndNoValue() throws {
        var dump: [UInt8] = []
        try TestCluster.sql(fixture.location!) { link in
            for row in try link.query("SELECT name_hash, nonce, ciphertext FROM \(unescaped: entries)").randomAccessRows
            {
                for column in 0..<3 { dump += try row[column].bytes() }
            }
            for row in try link.query("SELECT bytes FROM \(unescaped: headerTable)").randomAccessRows {
                dump += try row[0].bytes()
            }
        }
        for needle in ["alpha", "beta", "value"] {
            #expect(!dump.contains(Array(needle.utf8)), "'\(needle)' is in the database")
        }
    }

    @Test func swappedCiphertextsAreDetected() throws {
        let alpha = try row("alpha")
        let beta = try row("beta")
        try sql(
            "UPDATE \(unescaped: entries) SET nonce = \(beta.nonce.bytea), ciphertext = \(beta.ciphertext.bytea) WHERE name_hash = \(try hash("alpha").bytea)"
        )
        _ = alpha
        #expect(throws: VaultError.self) { try fixture.store.secret(named: "alpha") }
        do {
            _ = try fixture.open().secret(named: "alpha")
            Issue.record("a swapped row was read")
        } catch VaultError.integrity(.rowAuthentication) {}
    }

    @Test func anOlderVersionPutBackIsDetectedByAHandleThatSawTheNewer() throws {
        let old = try row("alpha")
        try fixture.store.setSecret(secure("alpha newer"), named: "alpha")
        #expect(text(try fixture.store.secret(named: "alpha")) == "alpha newer")
        // The whole old row, version included, put back: it authenticates, and it is old.
        try sql(
            "UPDATE \(unescaped: entries) SET version = \(old.version), nonce = \(old.nonce.bytea), ciphertext = \(old.ciphertext.bytea) WHERE name_hash = \(try hash("alpha").bytea)"
        )
        do {
            _ = try fixture.store.secret(named: "alpha")
            Issue.record("the old row was accepted")
        } catch VaultError.integrity(.rowWentBackInTime(_, let version, let seen)) {
            #expect(version == old.version && seen > version)
        }
        // Only the ciphertext of the old row, with the current version: does not authenticate.
        let newer = try fixture.open()
        try sql(
            "UPDATE \(unescaped: entries) SET version = \(old.version + 1000) WHERE name_hash = \(try hash("alpha").bytea)"
        )
        #expect(
            throws: VaultError.integrity(
                .rowAuthentication(nameHash: RowHex.prefix(try hash("alpha")), version: old.version + 1000))
        ) {
            try newer.secret(named: "alpha")
        }
    }

    @Test func aChangedNameHashOrKindIsDetected() throws {
        var other = try hash("alpha")
        other[0] ^= 1
        try sql(
            "UPDATE \(unescaped: entries) SET name_hash = \(other.bytea) WHERE name_hash = \(try hash("alpha").bytea)")
        #expect(try fixture.store.secret(named: "alpha") == nil, "the entry is gone from its name")
        do {
            _ = try fixture.store.names(of: .secret)
            Issue.record("a row under another name hash was listed")
        } catch VaultError.integrity(.rowAuthentication) {}
        try sql("DELETE FROM \(unescaped: entries) WHERE name_hash = \(other.bytea)")
        try sql("UPDATE \(unescaped: entries) SET kind = 2 WHERE name_hash = \(try hash("beta").bytea)")
        do {
            _ = try fixture.store.names(of: .app)
            Issue.record("a secret's row was listed as an app")
        } catch VaultError.integrity(.rowAuthentication) {}
    }

    @Test func aRowFromAnotherVaultIsDetected() throws {
        let second = try StoreFixture(.postgres)
        try second.store.setSecret(secure("from elsewhere"), named: "alpha")
        let foreign = try second.store as! PostgresVault
        let foreignHash = try foreign.current().keys.nameHash(of: EntryKey(.secret, "alpha"))
        let foreignRow = try TestCluster.sqlRow(second.location!, foreignHash)
        try sql(
            "UPDATE \(unescaped: entries) SET version = \(foreignRow.version), nonce = \(foreignRow.nonce.bytea), ciphertext = \(foreignRow.ciphertext.bytea) WHERE name_hash = \(try hash("alpha").bytea)"
        )
        do {
            _ = try fixture.open().secret(named: "alpha")
            Issue.record("another vault's row was read")
        } catch VaultError.integrity(.rowAuthentication) {}
    }

    @Test func anEditedHeaderRowIsDetected() throws {
        var bytes: [UInt8] = []
        try TestCluster.sql(fixture.location!) { link in
            bytes = try #require(try link.query("SELECT bytes FROM \(unescaped: headerTable)").randomAccessRows.first)[
                0
            ].bytes()
        }
        var edited = bytes
        edited[33] ^= 1  // the creation time (offset 32): covered by the MAC, not by the key slot
        try sql("UPDATE \(unescaped: headerTable) SET bytes = \(edited.bytea)")
        #expect(throws: VaultError.integrity(.headerAuthentication)) { try fixture.open() }
        var slot = bytes
        slot[70] ^= 1  // inside the passphrase slot's salt (offset 64): the slot no longer opens
        try sql("UPDATE \(unescaped: headerTable) SET bytes = \(slot.bytea)")
        #expect(throws: VaultError.wrongPassphraseOrDamagedHeader) { try fixture.open() }
        try sql("UPDATE \(unescaped: headerTable) SET bytes = \(Array(bytes.prefix(100)).bytea)")
        #expect(throws: VaultError.self) { try fixture.open() }
        try sql("UPDATE \(unescaped: headerTable) SET bytes = \(bytes.bytea)")
        #expect(text(try fixture.open().secret(named: "alpha")) == "alpha value")
    }

    @Test func malformedColumnsAreRefusedBeforeDecryption() throws {
        let alpha = try hash("alpha")
        for statement: PostgresQuery in [
            "UPDATE \(unescaped: entries) SET ciphertext = '\\x00' WHERE name_hash = \(alpha.bytea)",
            "UPDATE \(unescaped: entries) SET kind = 99 WHERE name_hash = \(alpha.bytea)",
        ] {
            let handle = try fixture.open()
            let good = try row("alpha")
            try sql(statement)
            do {
                _ = try handle.secret(named: "alpha")
                Issue.record("a malformed row was read")
            } catch VaultError.integrity(.malformedRow) {
            } catch VaultError.integrity(.rowAuthentication) {}
            try sql(
                "UPDATE \(unescaped: entries) SET kind = 1, version = \(good.version), nonce = \(good.nonce.bytea), ciphertext = \(good.ciphertext.bytea) WHERE name_hash = \(alpha.bytea)"
            )
        }
    }
}

extension TestCluster {
    static func sqlRow(
        _ location: PostgresLocation, _ hash: [UInt8]
    ) throws -> (version: Int64, nonce: [UInt8], ciphertext: [UInt8]) {
        var result: (Int64, [UInt8], [UInt8])?
        try sql(location) { link in
            let row = try #require(
                try link.query(
                    "SELECT version, nonce, ciphertext FROM \(unescaped: "\"\(location.schema)\".entries") WHERE name_hash = \(hash.bytea)"
                ).randomAccessRows.first)
            result = (try row[0].decode(Int64.self), try row[1].bytes(), try row[2].bytes())
        }
        return try #require(result)
    }
}
