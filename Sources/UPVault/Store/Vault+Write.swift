public import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Writing entries: one batch, one write, one `fdatasync`.
extension Vault {
    /// Applies every change made in `body` as one batch: one write and one `fdatasync`, all or nothing
    /// (a crash half way leaves none of the batch visible). Nothing is written if `body` throws; the
    /// vault's own failures are `VaultError`s.
    public func write(_ body: (inout VaultTransaction) throws -> Void) throws {
        var transaction = VaultTransaction()
        try body(&transaction)
        try commit(transaction.records, arena: transaction.arena, reportingVersions: false)
    }

    /// Writes `records` as one batch under the exclusive lock and returns the version each put gave its
    /// entry (an empty map without `reportingVersions`: a bulk import has no use for a million of them).
    @discardableResult
    func commit(
        _ records: [PendingRecord], arena: SecureArena, reportingVersions: Bool = true
    ) throws(VaultError) -> [EntryKey: EntryVersion] {
        try withLockedState(exclusive: true) { (state) throws(VaultError) -> [EntryKey: EntryVersion] in
            try Self.checkConditions(records, state: state)
            // A delete of an entry that is neither in the vault nor put earlier in the batch writes nothing.
            var effective = records
            if records.contains(where: { $0.operation == .delete }) {
                var existing = Set<EntryKey>()
                effective = records.filter { record in
                    switch record.operation {
                    case .put:
                        existing.insert(record.key)
                        return true
                    case .delete:
                        let present = existing.contains(record.key) || state.index[record.key] != nil
                        existing.remove(record.key)
                        return present
                    }
                }
            }
            guard !effective.isEmpty else { return [:] }
            try append(effective, arena: arena, to: &state)
            moveAnchor(to: state)
            compactIfDue(&state)
            guard reportingVersions else { return [:] }
            // After a compaction, too: it gives every entry a new version, and the one it has now counts.
            var versions: [EntryKey: EntryVersion] = [:]
            for record in effective where record.operation == .put {
                if let location = state.index[record.key] {
                    versions[record.key] = EntryVersion(generation: state.header.generation, record: location.index)
                }
            }
            return versions
        }
    }

    /// Applies `transaction` and returns the version each put gave its entry.
    package func commitReturningVersions(_ transaction: VaultTransaction) throws(VaultError) -> [EntryKey: EntryVersion]
    {
        try commit(transaction.records, arena: transaction.arena)
    }

    /// Every condition of a batch against the entries as they are now (under the exclusive lock), before
    /// anything is written: one that fails fails the batch. A condition on a key the batch changed earlier
    /// is checked against the entry before the batch.
    static func checkConditions(_ records: [PendingRecord], state: State) throws(VaultError) {
        for record in records {
            guard let condition = record.condition else { continue }
            let current = state.index[record.key].map {
                EntryVersion(generation: state.header.generation, record: $0.index)
            }
            switch condition {
            case .absent: guard current == nil else { throw .conflict(record.key) }
            case .version(let version): guard current == version else { throw .conflict(record.key) }
            }
        }
    }

    /// Compacts when dead records outnumber the live ones (and there are enough to matter), unless a
    /// bulk operation has deferred it. A failure leaves the vault as it was.
    func compactIfDue(_ state: inout State) {
        guard compactionDeferrals.load(ordering: .relaxed) == 0, state.deadRecordCount >= Self.compactionMinimumDead,
            state.deadRecordCount > state.index.count
        else { return }
        do {
            try rewrite(&state, slots: nil, keys: nil)
        } catch {
            logger.warning("automatic compaction failed; the vault is intact", metadata: ["error": "\(error)"])
        }
    }

    /// Runs `body` with automatic compaction deferred, then compacts once if it is due: bulk work that
    /// compares entry versions across many commits (a rewrite gives every entry a new version) and
    /// would otherwise rewrite a large file in the middle of its run.
    package func deferringCompaction<R>(_ body: () async throws -> R) async throws -> R {
        state.withLock { _ in compactionDeferrals.add(1, ordering: .relaxed) }
        let result: R
        do {
            result = try await body()
        } catch {
            state.withLock { _ in compactionDeferrals.subtract(1, ordering: .relaxed) }
            throw error
        }
        try withLockedState(exclusive: true) { (state) throws(VaultError) in
            compactionDeferrals.subtract(1, ordering: .relaxed)
            compactIfDue(&state)
        }
        return result
    }

    /// Compaction starts once this many records are dead and they outnumber the live ones.
    static let compactionMinimumDead = 16

    func append(_ records: [PendingRecord], arena: SecureArena, to state: inout State) throws(VaultError) {
        var writer = LogWriter(
            identity: state.identity, keys: state.keys, after: state.committed, recordCount: records.count)
        var written: [RecordLocation] = []
        written.reserveCapacity(records.count)
        for (number, record) in records.enumerated() {
            written.append(
                arena.withMutableBytes(record.slot) { plaintext in
                    plaintext[2] = number == records.count - 1 ? RecordFrame.endOfBatchFlag : 0
                    return writer.append(UnsafeRawBufferPointer(plaintext))
                })
        }
        let position = writer.position
        let (chunks, seal) = writer.finish()
        let output = chunks[0]

        let file = state.file
        let start = state.committed.offset
        // The batch is written over the old seal (or tail) and the file never becomes shorter than a
        // seal after the last complete batch, so an interruption leaves either a complete batch or an
        // unfinished one (FORMAT.md, "Writing"). A tail longer than a seal is first cut to one: the
        // batch and its seal are always longer, so nothing is left to truncate afterwards.
        do {
            if state.fileSize > start + UPV1.sealByteCount {
                try file.truncate(to: start + UPV1.sealByteCount)
                try file.syncData()
                state.fileSize = start + UPV1.sealByteCount
                state.knownTail = Array(state.knownTail.prefix(UPV1.sealByteCount))
            }
            try file.write(output, at: start)
        } catch {
            // Put the old end back (cut to its length first, so that an interruption here still leaves
            // an unfinished batch). If even that fails, the file reads as its last committed state
            // with a tail.
            do {
                try file.truncate(to: start + state.knownTail.count)
                try file.write(state.knownTail, at: start)
                try file.syncData()
            } catch {
                state.unusable = true
            }
            throw error
        }
        // Acknowledged means on disk. A failed `fdatasync` leaves it unknown whether the batch is there
        // (and must not be retried: the kernel may have dropped the dirty pages): the handle stops.
        do {
            try file.syncData()
        } catch {
            state.unusable = true
            throw error
        }
        for (record, location) in zip(records, written) {
            switch record.operation {
            case .put: state.index[record.key] = location
            case .delete: state.index[record.key] = nil
            }
        }
        state.committed = position
        state.knownTail = seal
        state.tornTail = nil
        state.fileSize = position.offset + seal.count
    }
}
