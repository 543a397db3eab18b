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

/// A record read by the scanner: where it is and what it says (its value stays encrypted in the file).
struct ScannedRecord: Sendable {
    var location: RecordLocation
    var operation: RecordOperation
    var key: EntryKey
}

struct ScanResult: Sendable {
    /// The chain after the last complete batch.
    var committed: ChainPosition
    /// Set when the file does not end in a valid seal right after the last complete batch.
    var tornTail: TornTail?
}

/// Walks the frames of a log and classifies its end, exactly as `Vault/FORMAT.md` ("Reading") says:
/// a damaged frame that is followed by more data is an integrity error; only an incomplete frame or an
/// incomplete seal at the very end counts as a torn tail.
enum LogScanner {
    /// Scans `bytes`, which hold the file from offset `base` to its end, starting at chain position
    /// `start` (whose offset is at least `base`). Complete batches are handed to `apply` in order.
    static func scan(
        _ bytes: UnsafeRawBufferPointer, base: Int, from start: ChainPosition, identity: LogIdentity,
        keys: VaultKeys, scratch: SecureBox, apply: ([ScannedRecord]) -> Void
    ) throws(VaultError) -> ScanResult {
        let end = base + bytes.count
        var position = start
        var committed = start
        var pending: [ScannedRecord] = []

        func torn() -> ScanResult {
            let count = end - committed.offset
            let unsealed = count == 0 || bytes[committed.offset - base] == UPV1.sealFrameType
            return ScanResult(
                committed: committed,
                tornTail: TornTail(
                    offset: committed.offset, byteCount: count, kind: unsealed ? .unsealed : .interruptedWrite))
        }

        while true {
            let remaining = end - position.offset
            if remaining == 0 { return torn() }
            let frame = UnsafeRawBufferPointer(rebasing: bytes[(position.offset - base)...])
            switch frame[0] {
            case UPV1.sealFrameType:
                if remaining < UPV1.sealByteCount { return torn() }
                if remaining > UPV1.sealByteCount { throw .integrity(.dataAfterSeal(offset: position.offset)) }
                guard
                    Seal.isValid(
                        frame, identity: identity, count: position.count, lastTag: position.lastTag,
                        offset: position.offset, key: keys.seal)
                else { throw .integrity(.sealAuthentication(offset: position.offset)) }
                guard pending.isEmpty else { throw .integrity(.unterminatedBatch(offset: position.offset)) }
                return ScanResult(committed: committed, tornTail: nil)

            case UPV1.recordFrameType:
                if remaining < UPV1.recordHeaderByteCount { return torn() }
                let n = frame.loadLittleEndian(at: 1, as: UInt32.self)
                let check = frame.loadLittleEndian(at: 5, as: UInt32.self)
                guard check == ~n else {
                    // A write cut within the 9 header bytes leaves a mix of new bytes and the old
                    // seal's 0xFF marker, never more than a seal's length of data.
                    if remaining <= UPV1.sealByteCount { return torn() }
                    throw .integrity(.malformedFrame(offset: position.offset))
                }
                let ciphertextCount = Int(n)
                guard ciphertextCount >= UPV1.minimumCiphertextByteCount,
                    ciphertextCount <= UPV1.maximumCiphertextByteCount,
                    (ciphertextCount - XChaCha20Poly1305.tagByteCount) % UPV1.paddingBlockSize == 0
                else { throw .integrity(.malformedFrame(offset: position.offset)) }
                let location = RecordLocation(
                    offset: position.offset, index: position.count, previousTag: position.lastTag,
                    ciphertextByteCount: n)
                if remaining < location.frameByteCount { return torn() }
                let fields = try RecordFrame.open(
                    frame, location: location, identity: identity, key: keys.record, scratch: &scratch.bytes)
                let name = scratch.bytes.withUnsafeBytes { String(decoding: $0[fields.name], as: UTF8.self) }
                pending.append(
                    ScannedRecord(location: location, operation: fields.operation, key: EntryKey(fields.kind, name)))
                let tagStart = location.frameByteCount - XChaCha20Poly1305.tagByteCount
                position = ChainPosition(
                    offset: position.offset + location.frameByteCount, count: position.count + 1,
                    lastTag: Tag(UnsafeRawBufferPointer(rebasing: frame[tagStart..<location.frameByteCount])))
                if fields.endsBatch {
                    apply(pending)
                    pending.removeAll(keepingCapacity: true)
                    committed = position
                }

            default:
                throw .integrity(.unknownFrameType(offset: position.offset, type: frame[0]))
            }
        }
    }
}
