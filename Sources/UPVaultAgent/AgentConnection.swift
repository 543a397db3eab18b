import Dispatch
import Synchronization
import UPVault

/// What the agent keeps for one client connection: the entry lock it holds for that client, if any. The
/// server makes one per connection and hands it back to the handler when the connection ends, so a lock
/// held for a client that died (its socket closed) is let go.
public final class AgentConnection: Sendable {
    let hold = Mutex<EntryLockHold?>(nil)

    public init() {}

    /// True while the agent holds an entry lock for this connection (its reads then have no time-out: the
    /// client is busy with the entry, not gone).
    public var holdsLock: Bool { hold.withLock { $0 != nil } }
}

/// An entry lock the agent holds for a client across requests: `VaultStore.withEntryLock` run in a task
/// whose body waits, without a thread, until `release` (a database vault's lock stays on the store's
/// connection for as long).
final class EntryLockHold: Sendable {
    private let letGo: AsyncStream<Void>.Continuation
    private let finished: DispatchSemaphore

    private init(letGo: AsyncStream<Void>.Continuation, finished: DispatchSemaphore) {
        self.letGo = letGo
        self.finished = finished
    }

    /// Tries once to take the lock of `key`: the hold, or nil when another holder has it. Blocks the
    /// calling (connection) thread until the store has answered.
    static func take(_ key: EntryKey, in store: any VaultStore) throws -> EntryLockHold? {
        let (stream, letGo) = AsyncStream<Void>.makeStream()
        let outcome = Mutex<Result<Bool, any Error>?>(nil)
        let answered = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        @Sendable func answer(_ result: Result<Bool, any Error>) {
            let first = outcome.withLock { outcome in
                guard outcome == nil else { return false }
                outcome = result
                return true
            }
            if first { answered.signal() }
        }
        Task {
            do {
                try await store.withEntryLock(key, timeout: .zero) {
                    answer(.success(true))
                    for await _ in stream {}
                }
            } catch {
                if case VaultError.entryLockTimeout = error { answer(.success(false)) } else { answer(.failure(error)) }
            }
            finished.signal()
        }
        answered.wait()
        guard try outcome.withLock({ $0! }).get() else {
            finished.wait()
            return nil
        }
        return EntryLockHold(letGo: letGo, finished: finished)
    }

    /// Lets the lock go and waits until the store has released it.
    func release() {
        letGo.finish()
        finished.wait()
    }
}
