public import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Keeping up with other processes: every call first picks up what others appended or rewrote.
extension Vault {
    /// Brings the in-memory index up to date with the file. Called with the lock file held.
    func refresh(_ state: inout State) throws(VaultError) {
        guard let status = try PosixFile.status(ofPath: path) else { throw .vaultNotFound(path: path) }
        guard status.identity == state.fileIdentity, status.size >= state.committed.offset else {
            try reload(&state)
            return
        }
        let tail = try state.file.read(count: status.size - state.committed.offset, at: state.committed.offset)
        if status.size == state.fileSize && tail == state.knownTail { return }
        do {
            let committedBefore = state.committed
            let result = try tail.withRawBytes { (raw) throws(VaultError) -> ScanResult in
                try LogScanner.scan(
                    .bytes(raw, base: committedBefore.offset), from: committedBefore, identity: state.identity,
                    keys: state.keys, decryption: state.decryption, into: &state.index)
            }
            state.committed = result.committed
            state.tornTail = result.tornTail
            state.knownTail = Array(tail[(result.committed.offset - committedBefore.offset)...])
            state.fileSize = status.size
        } catch {
            // Something other than an append changed the file: read it whole for a definitive answer.
            try reload(&state)
        }
    }

    /// Re-reads the whole file (after another process replaced it), keeping the master key. A file
    /// older than what this handle has seen, or with another history, is refused: a handle never goes
    /// back in time.
    func reload(_ state: inout State) throws(VaultError) {
        let file = try Self.openVaultFile(path)
        let keys = state.keys
        let seen = state.mark
        let vaultID = state.header.vaultID
        let (fresh, tagAtSeen) = try Self.load(
            file: file, decryption: state.decryption, tagAfter: { seen.count },
            unlock: { (header) throws(VaultError) -> VaultKeys in
                guard header.vaultID == vaultID else { throw .rekeyedElsewhere }
                return keys
            })
        let current = fresh.mark
        switch seen.continuity(of: current, tagAtThisCount: tagAtSeen) {
        case .same, .ahead:
            state = fresh
        case .behind:
            throw .integrity(
                .wentBackInTime(
                    generation: current.generation, records: current.count, seenGeneration: seen.generation,
                    seenRecords: seen.count, anchor: nil))
        case .diverged:
            throw .integrity(.divergedHistory(generation: current.generation, records: current.count, anchor: nil))
        }
    }

    func withLockedState<R: ~Copyable>(
        exclusive: Bool, _ body: (inout State) throws(VaultError) -> sending R
    ) throws(VaultError) -> sending R {
        try state.withLock { (state: inout State) throws(VaultError) -> sending R in
            try self.locked(&state, exclusive: exclusive, body)
        }
    }

    func locked<R: ~Copyable>(
        _ state: inout State, exclusive: Bool, _ body: (inout State) throws(VaultError) -> sending R
    ) throws(VaultError) -> sending R {
        if state.wiped || (exclusive && state.unusable) { throw .handleUnusable }
        try lockFile.lock(exclusive: exclusive, timeout: lockTimeout)
        defer { lockFile.unlock() }
        do {
            try refresh(&state)
        } catch {
            throw error == .integrity(.headerAuthentication) ? .rekeyedElsewhere : error
        }
        return try body(&state)
    }
}
