import Synchronization
import UPVault

/// Grant writes from many workers, each durable before its caller goes on, made in shared batches: one
/// write (one `fdatasync` in a vault file) carries whatever arrived while the previous one was being
/// written. The first caller to find no write in progress writes, its own grant and every grant that
/// arrives meanwhile, until none is waiting; the others wait for the batch that carries theirs. A failed
/// write fails every caller in its batch (none of their grants is stored) and the next caller writes anew.
final class GroupCommit: Sendable {
    private typealias Waiter = (grant: Grant, continuation: CheckedContinuation<Void, any Error>)

    private struct State {
        var pending: [Waiter] = []
        var writing = false
        var batches = 0
    }

    private let vault: any VaultStore
    private let state = Mutex(State())

    init(vault: any VaultStore) {
        self.vault = vault
    }

    /// Stores `grant`; returns once the batch that carries it is durable.
    func put(_ grant: Grant) async throws(OAuthError) {
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let leads = state.withLock { state in
                    state.pending.append((grant, continuation))
                    defer { state.writing = true }
                    return !state.writing
                }
                if leads { writeWhilePending() }
            }
        } catch {
            throw OAuthClient.oauthError(error)
        }
    }

    /// The batches written so far.
    var batches: Int { state.withLock { $0.batches } }

    /// Grants waiting for the next batch (for tests).
    var waiting: Int { state.withLock { $0.pending.count } }

    private func writeWhilePending() {
        while true {
            let batch = state.withLock { state -> [Waiter] in
                defer { state.pending.removeAll() }
                if state.pending.isEmpty { state.writing = false }
                return state.pending
            }
            if batch.isEmpty { return }
            do {
                try vault.write { transaction in
                    for waiter in batch { try transaction.put(waiter.grant) }
                }
                state.withLock { $0.batches += 1 }
                for waiter in batch { waiter.continuation.resume() }
            } catch {
                for waiter in batch { waiter.continuation.resume(throwing: error) }
            }
        }
    }
}
