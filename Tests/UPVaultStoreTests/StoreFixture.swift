import Foundation
import Logging
import PostgresNIO
import Testing
import UPVaultTesting

@testable import UPVault
@testable import UPVaultPostgres

/// The two stores every conformance test runs on.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case file
    case postgres

    var testDescription: String { rawValue }
}

/// The throw-away PostgreSQL cluster of `scripts/postgres.sh` (which `scripts/test.sh` starts): its URL
/// in `UPVAULT_TEST_POSTGRES`, its password in the passfile `PGPASSFILE` names.
enum TestCluster {
    static let url = ProcessInfo.processInfo.environment["UPVAULT_TEST_POSTGRES"]
    static var isAvailable: Bool { url != nil }
    static let unavailable = "no test cluster: run scripts/test.sh, or eval \"$(scripts/postgres.sh start)\" first"

    /// The cluster's location with a schema of its own (one vault per schema, so tests run in parallel).
    static func location(
        schema: String = "t_" + Random.bytes(6).map { String(format: "%02x", $0) }.joined()
    )
        throws -> PostgresLocation
    {
        var location = try PostgresLocation(url: url!, environment: ProcessInfo.processInfo.environment)
        location.schema = schema
        return location
    }

    /// Runs raw SQL as the vault's role: what a database administrator (or an attacker with the
    /// database) can do behind upvault's back.
    static func sql(_ location: PostgresLocation, _ body: (PostgresLink) throws -> Void) throws {
        let password = try PostgresCredentials.password(for: location, environment: ProcessInfo.processInfo.environment)
        let session = try PostgresSession(location: location, password: password, logger: Vault.silentLogger)
        try session.withConnection { link in try body(link) }
    }

    static func dropSchema(_ location: PostgresLocation) {
        try? sql(location) { link in
            try link.execute("DROP SCHEMA IF EXISTS \(unescaped: "\"\(location.schema)\"") CASCADE")
        }
    }
}

/// One fresh vault on one store, with what the tests need to open it again; removed with the fixture.
final class StoreFixture: Sendable {
    let kind: StoreKind
    let store: any KeyedVaultStore
    let directory: TemporaryDirectory?
    let location: PostgresLocation?

    init(_ kind: StoreKind) throws {
        self.kind = kind
        switch kind {
        case .file:
            let directory = TemporaryDirectory(prefix: "upvault-store")
            self.directory = directory
            self.location = nil
            store = try Vault.create(at: directory.file("vault.upv"), passphrase: secure(testPassphrase), kdf: testKDF)
        case .postgres:
            let location = try TestCluster.location()
            self.directory = nil
            self.location = location
            store = try PostgresVault.create(at: location, passphrase: secure(testPassphrase), kdf: testKDF)
        }
    }

    deinit {
        if let location { TestCluster.dropSchema(location) }
    }

    /// Another handle on the same vault, opened with `passphrase`.
    func open(passphrase: String = testPassphrase) throws -> any KeyedVaultStore {
        switch kind {
        case .file: try Vault.open(at: store.path, passphrase: secure(passphrase), limits: testLimits)
        case .postgres: try PostgresVault.open(at: location!, passphrase: secure(passphrase), limits: testLimits)
        }
    }

    func open(recoveryKey: borrowing SecureBytes) throws -> any KeyedVaultStore {
        switch kind {
        case .file: try Vault.open(at: store.path, recoveryKey: recoveryKey)
        case .postgres: try PostgresVault.open(at: location!, recoveryKey: recoveryKey)
        }
    }

    /// Creating a second vault at the same place.
    func createAgain() throws -> any KeyedVaultStore {
        switch kind {
        case .file: try Vault.create(at: store.path, passphrase: secure(testPassphrase), kdf: testKDF)
        case .postgres: try PostgresVault.create(at: location!, passphrase: secure(testPassphrase), kdf: testKDF)
        }
    }

    /// Opening a vault where there is none.
    func openMissing() throws -> any KeyedVaultStore {
        switch kind {
        case .file:
            try Vault.open(at: directory!.file("missing.upv"), passphrase: secure(testPassphrase), limits: testLimits)
        case .postgres:
            try PostgresVault.open(
                at: TestCluster.location(schema: "missing_vault"), passphrase: secure(testPassphrase),
                limits: testLimits)
        }
    }

    var missingPath: String {
        switch kind {
        case .file: directory!.file("missing.upv")
        case .postgres: (try? TestCluster.location(schema: "missing_vault").description) ?? ""
        }
    }
}

/// The stores to run on: the file always; PostgreSQL when the test cluster is there.
let allStores: [StoreKind] = TestCluster.isAvailable ? StoreKind.allCases : [.file]

func text(_ bytes: borrowing SecureBytes?) -> String? {
    switch bytes {
    case .some(let value): value.utf8String()
    case .none: nil
    }
}

func contents(of store: any VaultStore) throws -> [String: String] {
    var result: [String: String] = [:]
    for name in try store.names(of: .secret) { result[name] = text(try store.secret(named: name)) }
    return result
}
