import Dispatch
import Synchronization
import Testing
import UPVault
import UPVaultTesting

@testable import UPVaultOAuth

/// The bulk revocation's shared syncs: writes that arrive while a batch is being written go together in
/// the next one, each caller returns only once its grant is durable, and a failed write fails exactly the
/// callers of its batch.
@Suite struct GroupCommitTests {
    func grant(_ index: Int) -> Grant {
        Grant(app: "up", user: "user\(index)", accessToken: "a\(index)", refreshToken: "r", issuedAt: 1, expiresAt: nil)
    }

    /// Runs on the blocking executor's threads: the gated write holds one of them, not Swift's small pool.
    func put(_ commit: GroupCommit, _ grants: [Grant]) async -> [Result<Void, OAuthError>] {
        await withTaskGroup(of: Result<Void, OAuthError>.self) { group in
            for grant in grants {
                group.addTask(executorPreference: BlockingExecutor.shared) {
                    do throws(OAuthError) {
                        try await commit.put(grant)
                        return .success(())
                    } catch {
                        return .failure(error)
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
    }

    /// Waits (yielding, no sleep) until `condition` holds.
    func wait(until condition: () -> Bool) async {
        while !condition() { await Task.yield() }
    }

    @Test func writesWaitingForABatchShareTheNextOne() async throws {
        let fixture = try VaultFixture()
        let store = GatedStore(fixture.vault)
        let commit = GroupCommit(vault: store)
        async let first = put(commit, [grant(0)])
        await wait { store.writesStarted == 1 }  // the first batch is being written, and held
        async let others = put(commit, (1...10).map(grant))
        await wait { commit.waiting == 10 }
        #expect(try fixture.vault.entry(Grant.self, named: "up/user0") == nil, "not durable: its caller waits")
        store.release()
        let results = await first + others
        #expect(results.allSatisfy { if case .success = $0 { true } else { false } })
        #expect(store.writesStarted == 2 && commit.batches == 2, "one write for the first, one for the ten")
        for index in 0...10 { #expect(try fixture.vault.entry(Grant.self, named: "up/user\(index)") != nil) }
    }

    @Test func aFailedWriteFailsItsBatchAndTheNextCallerWritesAnew() async throws {
        let fixture = try VaultFixture()
        let store = GatedStore(fixture.vault, failing: true)
        let commit = GroupCommit(vault: store)
        async let first = put(commit, [grant(0)])
        await wait { store.writesStarted == 1 }
        async let others = put(commit, (1...3).map(grant))
        await wait { commit.waiting == 3 }
        store.release()  // the first write fails; the three then go in a second write, which fails too
        let failed = await first + others
        #expect(
            failed.count == 4
                && failed.allSatisfy { if case .failure(.vault(.syncFailed)) = $0 { true } else { false } })
        #expect(commit.batches == 0)
        #expect(try fixture.vault.entries(Grant.self).isEmpty, "nothing of a failed batch is stored")
        store.stopFailing()
        let after = await put(commit, [grant(4)])
        #expect(after.count == 1 && after.allSatisfy { if case .success = $0 { true } else { false } })
        #expect(commit.batches == 1)
        #expect(try fixture.vault.entries(Grant.self).map(\.user) == ["user4"])
    }
}

/// A vault whose first write waits until `release()`, and whose writes fail with `syncFailed` (ENOSPC) while
/// `failing`; everything else goes to the vault.
final class GatedStore: VaultStore {
    private let vault: Vault
    private let gate = DispatchSemaphore(value: 0)
    private let state: Mutex<(started: Int, failing: Bool)>

    init(_ vault: Vault, failing: Bool = false) {
        self.vault = vault
        state = Mutex((0, failing))
    }

    var writesStarted: Int { state.withLock { $0.started } }
    func release() { gate.signal() }
    func stopFailing() { state.withLock { $0.failing = false } }

    var path: String { vault.path }
    func value(for key: EntryKey) throws -> SecureBytes? { try vault.value(for: key) }
    func versionedValue(for key: EntryKey) throws -> VersionedValue? { try vault.versionedValue(for: key) }
    func names(of kind: EntryKind) throws -> [String] { try vault.names(of: kind) }
    func contains(_ key: EntryKey) throws -> Bool { try vault.contains(key) }
    func write(_ body: (inout VaultTransaction) throws -> Void) throws {
        let (started, failing) = state.withLock { state in
            state.started += 1
            return (state.started, state.failing)
        }
        if started == 1 { gate.wait() }
        if failing { throw VaultError.syncFailed(path: vault.path, errno: 28) }
        try vault.write(body)
    }
    func withEntryLock<R>(_ key: EntryKey, timeout: Duration, _ body: () async throws -> R) async throws -> R {
        try await vault.withEntryLock(key, timeout: timeout, body)
    }
    func compact() throws { try vault.compact() }
    func tail() throws -> TornTail? { try vault.tail() }
}
