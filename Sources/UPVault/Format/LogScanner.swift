/// A position in the record chain: where the next frame (or the seal) starts, how many records come
/// before it and the tag of the last one.
struct ChainPosition: Sendable, Equatable {
    var offset: Int
    var count: UInt64
    var lastTag: Tag
}

/// A file that does not end in a valid seal right after its last complete batch. Readers serve the
/// complete batches and report the tail; a write replaces it with its own batch and seal; only an
/// explicit repair (`Vault.repair()`, `upvault fsck --repair`) removes it on its own.
public struct TornTail: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable {
        /// An unfinished batch: record bytes after the last complete batch (a writer stopped half way).
        case interruptedWrite = "interrupted_write"
        /// The last complete batch has no seal, or part of one: a writer stopped while writing its
        /// seal, or the file was cut at a batch boundary (which is how a rollback by truncation looks;
        /// the anchor and an open handle tell the two apart).
        case unsealed
    }

    /// The file offset where the ignored bytes start (the end of the last complete batch).
    public let offset: Int
    /// How many bytes are ignored.
    public let byteCount: Int
    public let kind: Kind

    public init(offset: Int, byteCount: Int, kind: Kind) {
        self.offset = offset
        self.byteCount = byteCount
        self.kind = kind
    }

    public var description: String {
        switch kind {
        case .interruptedWrite: "an interrupted write of \(byteCount) bytes at offset \(offset)"
        case .unsealed: "no complete seal after the last batch (\(byteCount) bytes of one at offset \(offset))"
        }
    }
}

struct ScanResult: Sendable {
    /// The chain after the last complete batch.
    var committed: ChainPosition
    /// Set when the file does not end in a valid seal right after the last complete batch.
    var tornTail: TornTail?
    /// The tag after `mark` records (the previous tag of record `mark`), when the scan was asked for it
    /// and the committed chain is at least that long.
    var tagAtMark: Tag?
}

/// Where a scan reads the log from: a file, read in chunks into one reused buffer (bounded memory
/// whatever the file's size), or bytes already in memory.
enum ScanSource {
    /// The file, up to `end` (its size when the scan starts).
    case file(PosixFile, end: Int)
    /// `bytes` hold the file from offset `base` to its end.
    case bytes(UnsafeRawBufferPointer, base: Int)
}

/// Walks the frames of a log and classifies its end, exactly as `Vault/FORMAT.md` ("Reading") says:
/// a damaged frame that is followed by more data is an integrity error; only an incomplete frame or an
/// incomplete seal at the very end counts as a torn tail.
///
/// Each chunk is walked twice. The first walk reads only the frame headers: every record's associated
/// data (index, previous tag, header) is known from the file before anything is decrypted. The records
/// found are then decrypted on every core (`RecordDecryption`) while one thread applies the previous
/// chunk's records to the index, in order, a batch at a time. The first failure in file order wins, so
/// the result (index, committed position, tail, error) is exactly what a record-by-record reader gets.
enum LogScanner {
    /// A chunk holds any frame that starts at its beginning (the largest frame is just over 1 MiB).
    static let chunkByteCount = 8 << 20

    /// Scans from chain position `start` to the end of `source`, applying each complete batch to
    /// `index`. `mark` asks for the tag after that many records (`ScanResult.tagAtMark`).
    static func scan(
        _ source: ScanSource, from start: ChainPosition, identity: LogIdentity, keys: VaultKeys,
        decryption: RecordDecryption, into index: inout EntryIndex, mark: UInt64? = nil,
        chunkByteCount: Int = LogScanner.chunkByteCount
    ) throws(VaultError) -> ScanResult {
        var walk = Walk(position: start)
        var batches = Batches(committed: start, mark: mark)
        switch source {
        case .bytes(let bytes, let base):
            let stop = walk.frames(in: bytes, base: base, fileEnd: base + bytes.count)
            let records = try decryption.decrypt(
                walk.frames, in: bytes, base: base, identity: identity, key: keys.record)
            batches.apply(Decrypted(frames: walk.frames, slices: records, endTag: walk.position.lastTag), to: &index)
            return try batches.finish(
                stop, walk: walk, bytes: bytes, base: base, end: base + bytes.count, identity: identity, keys: keys)

        case .file(let file, let end):
            // One buffer, reused; it grows only when a frame is longer than it (never with the default
            // size) and is wiped before it is freed: it held ciphertext only, but costs nothing to clear.
            var storage = UnsafeMutableRawBufferPointer.allocate(
                byteCount: max(1, min(chunkByteCount, end - start.offset)), alignment: 16)
            defer {
                Sodium.wipe(storage)
                storage.deallocate()
            }
            var previous: Decrypted? = nil
            // Large files reuse one set of scratch buffers for all their chunks (small ones rarely need any).
            let scratches = end - start.offset > 1 << 20 ? decryption.makeScratches() : nil
            while true {
                let base = walk.position.offset
                let wanted = min(storage.count, end - base)
                let chunk = UnsafeMutableRawBufferPointer(rebasing: storage[0..<wanted])
                guard try file.read(into: chunk, at: base) == wanted else {
                    throw .integrity(.fileTooShort(byteCount: base))
                }
                let bytes = UnsafeRawBufferPointer(chunk)
                let stop = walk.frames(in: bytes, base: base, fileEnd: end)
                if base == start.offset && !walk.frames.isEmpty {
                    // Size the index for the whole file from the first chunk's average frame.
                    let average = (walk.position.offset - base) / walk.frames.count
                    index.reserve((end - start.offset) / average + (end - start.offset) / average / 8)
                }
                // The previous chunk's records go into the index while this chunk's are decrypted.
                let records = try withUnsafeMutablePointer(to: &batches) {
                    (batchesPointer) throws(VaultError) -> [RecordDecryption.Output] in
                    try withUnsafeMutablePointer(to: &index) {
                        (indexPointer) throws(VaultError) -> [RecordDecryption.Output] in
                        let job = previous.map { ApplyJob(batches: batchesPointer, index: indexPointer, records: $0) }
                        return try decryption.decrypt(
                            walk.frames, in: bytes, base: base, identity: identity, key: keys.record,
                            scratches: scratches, alongside: job.map { job in { job.run() } })
                    }
                }
                previous = Decrypted(frames: walk.frames, slices: records, endTag: walk.position.lastTag)
                guard case .needMore = stop else {
                    if let previous { batches.apply(previous, to: &index) }
                    return try batches.finish(
                        stop, walk: walk, bytes: bytes, base: base, end: end, identity: identity, keys: keys)
                }
                if walk.position.offset == base {
                    // Not one whole frame fits: a larger buffer (bounded by the largest frame).
                    let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: storage.count * 2, alignment: 16)
                    Sodium.wipe(storage)
                    storage.deallocate()
                    storage = larger
                }
            }
        }
    }

    /// Why the header walk of a chunk stopped.
    enum Stop {
        /// The chunk ends inside a frame (or at one's start) and the file goes on.
        case needMore
        /// A seal frame of the right length starts at the position and ends the file.
        case seal
        /// The file ends inside a frame or a seal.
        case torn
        case failure(VaultError)
    }

    /// The header walk: where the frames are, nothing decrypted.
    struct Walk {
        var position: ChainPosition
        /// The frames found by the last walk.
        var frames: [RecordLocation] = []

        /// Replaces `frames` with each complete, well-framed record in `bytes` from `position` on.
        mutating func frames(in bytes: UnsafeRawBufferPointer, base: Int, fileEnd end: Int) -> Stop {
            frames.removeAll(keepingCapacity: true)
            var walked = position
            defer { position = walked }
            while true {
                let remaining = end - walked.offset
                if remaining == 0 { return .torn }
                let available = base + bytes.count - walked.offset
                if available == 0 { return .needMore }
                let frame = UnsafeRawBufferPointer(rebasing: bytes[(walked.offset - base)...])
                switch frame[0] {
                case UPV1.sealFrameType:
                    if remaining < UPV1.sealByteCount { return .torn }
                    if remaining > UPV1.sealByteCount {
                        return .failure(.integrity(.dataAfterSeal(offset: walked.offset)))
                    }
                    return available < UPV1.sealByteCount ? .needMore : .seal

                case UPV1.recordFrameType:
                    if remaining < UPV1.recordHeaderByteCount { return .torn }
                    if available < UPV1.recordHeaderByteCount { return .needMore }
                    let n = frame.loadLittleEndian(at: 1, as: UInt32.self)
                    let check = frame.loadLittleEndian(at: 5, as: UInt32.self)
                    guard check == ~n else {
                        // A write cut within the 9 header bytes leaves a mix of new bytes and the old
                        // seal's 0xFF marker, never more than a seal's length of data.
                        if remaining <= UPV1.sealByteCount { return .torn }
                        return .failure(.integrity(.malformedFrame(offset: walked.offset)))
                    }
                    let ciphertextCount = Int(n)
                    guard ciphertextCount >= UPV1.minimumCiphertextByteCount,
                        ciphertextCount <= UPV1.maximumCiphertextByteCount,
                        (ciphertextCount - XChaCha20Poly1305.tagByteCount) % UPV1.paddingBlockSize == 0
                    else { return .failure(.integrity(.malformedFrame(offset: walked.offset))) }
                    let location = RecordLocation(
                        offset: walked.offset, index: walked.count, previousTag: walked.lastTag,
                        ciphertextByteCount: n)
                    if remaining < location.frameByteCount { return .torn }
                    if available < location.frameByteCount { return .needMore }
                    frames.append(location)
                    let tagStart = location.frameByteCount - XChaCha20Poly1305.tagByteCount
                    walked = ChainPosition(
                        offset: walked.offset + location.frameByteCount, count: walked.count + 1,
                        lastTag: Tag(UnsafeRawBufferPointer(rebasing: frame[tagStart..<location.frameByteCount])))

                default:
                    return .failure(.integrity(.unknownFrameType(offset: walked.offset, type: frame[0])))
                }
            }
        }
    }

    /// The decrypted records of one walk: the frames, their records in slices (file order), and the
    /// tag of the last frame.
    struct Decrypted: Sendable {
        var frames: [RecordLocation]
        var slices: [RecordDecryption.Output]
        var endTag: Tag
    }

    /// Applies records to the index a complete batch at a time, and keeps the committed position.
    struct Batches {
        var committed: ChainPosition
        let mark: UInt64?
        var tagAtMark: Tag?
        /// The records of the batch being read (which may have begun in an earlier chunk), waiting for
        /// its last record; their names are in `pendingNames`.
        var pending: [PendingEntry] = []
        var pendingNames: [UInt8] = []

        init(committed: ChainPosition, mark: UInt64?) {
            self.committed = committed
            self.mark = mark
            if mark == committed.count { tagAtMark = committed.lastTag }
        }

        /// Applies every batch that ends in `decrypted` (with the pending records of earlier chunks) and
        /// keeps the records after the last batch end pending.
        mutating func apply(_ decrypted: Decrypted, to index: inout EntryIndex) {
            // The last record that ends a batch: everything up to it is applied straight from the slices.
            var lastEnd: (slice: Int, record: Int, number: Int)? = nil
            var number = decrypted.frames.count
            search: for (sliceNumber, slice) in decrypted.slices.enumerated().reversed() {
                for (recordNumber, record) in slice.records.enumerated().reversed() {
                    number -= 1
                    if record.fields.endsBatch {
                        lastEnd = (sliceNumber, recordNumber, number)
                        break search
                    }
                }
            }
            number = 0
            if let lastEnd {
                if !pending.isEmpty { commitPending(to: &index) }
                for sliceNumber in 0...lastEnd.slice {
                    let slice = decrypted.slices[sliceNumber]
                    let records = sliceNumber == lastEnd.slice ? slice.records[...lastEnd.record] : slice.records[...]
                    slice.names.withUnsafeBytes { names in
                        for record in records {
                            let location = decrypted.frames[number]
                            number += 1
                            let name = UnsafeRawBufferPointer(rebasing: names[record.name])
                            switch record.fields.operation {
                            case .put: index.set(record.fields.kind, name, location, hash: record.hash)
                            case .delete: index.remove(record.fields.kind, name, hash: record.hash)
                            }
                            if location.index == mark { tagAtMark = location.previousTag }
                        }
                    }
                }
                let location = decrypted.frames[lastEnd.number]
                committed = ChainPosition(
                    offset: location.offset + location.frameByteCount, count: location.index + 1,
                    lastTag: number < decrypted.frames.count ? decrypted.frames[number].previousTag : decrypted.endTag)
                if mark == committed.count { tagAtMark = committed.lastTag }
            }
            // The rest waits for its batch's end in a later chunk (or is the unfinished batch of a tail).
            var skipped = 0
            for slice in decrypted.slices {
                for record in slice.records {
                    skipped += 1
                    guard skipped > number else { continue }
                    let start = pendingNames.count
                    pendingNames.append(contentsOf: slice.names[record.name])
                    pending.append(
                        PendingEntry(
                            location: decrypted.frames[skipped - 1], operation: record.fields.operation,
                            kind: record.fields.kind, name: start..<pendingNames.count, hash: record.hash))
                }
            }
        }

        private mutating func commitPending(to index: inout EntryIndex) {
            pendingNames.withUnsafeBytes { names in
                for entry in pending {
                    let name = UnsafeRawBufferPointer(rebasing: names[entry.name])
                    switch entry.operation {
                    case .put: index.set(entry.kind, name, entry.location, hash: entry.hash)
                    case .delete: index.remove(entry.kind, name, hash: entry.hash)
                    }
                    if entry.location.index == mark { tagAtMark = entry.location.previousTag }
                }
            }
            pending.removeAll(keepingCapacity: true)
            pendingNames.removeAll(keepingCapacity: true)
        }

        /// The outcome once the walk stopped for good (all its records applied).
        func finish(
            _ stop: Stop, walk: Walk, bytes: UnsafeRawBufferPointer, base: Int, end: Int, identity: LogIdentity,
            keys: VaultKeys
        ) throws(VaultError) -> ScanResult {
            switch stop {
            case .needMore, .torn:
                return ScanResult(
                    committed: committed, tornTail: tornTail(bytes, base: base, end: end), tagAtMark: tagAtMark)
            case .seal:
                let position = walk.position
                let seal = UnsafeRawBufferPointer(
                    rebasing: bytes[(position.offset - base)..<(position.offset - base + UPV1.sealByteCount)])
                guard
                    Seal.isValid(
                        seal, identity: identity, count: position.count, lastTag: position.lastTag,
                        offset: position.offset, key: keys.seal)
                else { throw .integrity(.sealAuthentication(offset: position.offset)) }
                guard pending.isEmpty else { throw .integrity(.unterminatedBatch(offset: position.offset)) }
                return ScanResult(committed: committed, tornTail: nil, tagAtMark: tagAtMark)
            case .failure(let error):
                throw error
            }
        }

        /// The tail after the committed position, up to the end of the file. It is unsealed when it is
        /// empty or starts with a seal's type byte; a tail that starts before this chunk holds the
        /// records of an unfinished batch.
        private func tornTail(_ bytes: UnsafeRawBufferPointer, base: Int, end: Int) -> TornTail {
            let count = end - committed.offset
            let first = committed.offset - base
            let unsealed = count == 0 || (first >= 0 && bytes[first] == UPV1.sealFrameType)
            return TornTail(offset: committed.offset, byteCount: count, kind: unsealed ? .unsealed : .interruptedWrite)
        }
    }
}

/// The index update of one chunk, run on a decryption thread while the next chunk is decrypted. The
/// scan's stack frame owns both pointees and waits for the job (`concurrentPerform` returns after it).
private struct ApplyJob: @unchecked Sendable {
    let batches: UnsafeMutablePointer<LogScanner.Batches>
    let index: UnsafeMutablePointer<EntryIndex>
    let records: LogScanner.Decrypted

    func run() {
        batches.pointee.apply(records, to: &index.pointee)
    }
}

/// A record of the batch being read, waiting for the batch's last record.
struct PendingEntry: Sendable {
    var location: RecordLocation
    var operation: RecordOperation
    var kind: EntryKind
    /// Where its name is in the walk's names buffer.
    var name: Range<Int>
    var hash: Int
}
