import PostgresNIO
public import UPVault

/// Entry locks across processes and hosts: a PostgreSQL session-level advisory lock, keyed by the
/// entry's lock id (`RowKeys.lockID`: a keyed hash, so `pg_locks` reveals no name), held on a connection
/// of its own for as long as `body` runs. Nothing times it out while its holder works; the server
/// releases it when the holder's connection ends, a killed process included. Writes do not rely on it
/// alone: the holder's write is conditional on the version it read, so even a holder whose connection
/// broke cannot overwrite a newer value.
extension PostgresVault {
    /// Runs `body` holding the lock of `key`, waiting (polling, without blocking a thread) up to `timeout`.
    ///
    /// - Throws: `VaultError.entryLockTimeout` when another holder kept it for the whole time-out;
    ///   `CancellationError` when the task is cancelled while waiting; whatever `body` throws.
    public func withEntryLock<R>(
        _ key: EntryKey, timeout: Duration = .seconds(60), _ body: () async throws -> R
    ) async throws -> R {
        let (_, keys) = try current()
        let id = keys.lockID(of: key)
        let connection = try session.acquire()
        let link = PostgresLink(connection: connection, session: session)
        do {
            try await lock(id, key: key, timeout: timeout, link)
        } catch {
            session.release(connection)
            throw error
        }
        do {
            let result = try await body()
            await unlock(id, connection: connection, link)
            return result
        } catch {
            await unlock(id, connection: connection, link)
            throw error
        }
    }

    /// Releases the lock and the connection. A broken connection has already lost the lock; it is
    /// dropped, not reused.
    private func unlock(_ id: Int64, connection: PostgresConnection, _ link: PostgresLink) async {
        _ = try? await link.queryAsync("SELECT pg_advisory_unlock(\(id))")
        session.release(connection)
    }

    private func lock(_ id: Int64, key: EntryKey, timeout: Duration, _ link: PostgresLink) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var pause = Duration.milliseconds(2)
        while true {
            let rows = try await link.queryAsync("SELECT pg_try_advisory_lock(\(id))").randomAccessRows
            if try rows.first?[0].decode(Bool.self) == true { return }
            if clock.now >= deadline { throw VaultError.entryLockTimeout(key) }
            if pause == .milliseconds(2) { logger.debug("waiting for an entry lock", metadata: ["entry": "\(key)"]) }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(50))
        }
    }
}
