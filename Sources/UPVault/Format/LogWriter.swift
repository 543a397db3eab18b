/// Seals records into frames after a chain position, and the seal after the last one: the one loop an
/// append and a rewrite share, mirroring `LogScanner`, which opens them. Each record's plaintext comes
/// with its end-of-batch flag already set; the bytes are collected in chunks of `chunkByteCount` (a
/// rewrite writes a large file in pieces, an append in one `write`).
struct LogWriter {
    let identity: LogIdentity
    let keys: VaultKeys
    private(set) var position: ChainPosition
    private var chunks: [[UInt8]] = []
    private var current: ByteWriter
    private let chunkByteCount: Int
    /// The nonces of the records to come, drawn at once (one system call per 256 random bytes instead
    /// of one per record).
    private let nonces: [UInt8]
    private var nonceOffset = 0

    /// A writer for `recordCount` records after `position`.
    init(
        identity: LogIdentity, keys: VaultKeys, after position: ChainPosition, recordCount: Int,
        chunkByteCount: Int = Int.max
    ) {
        self.identity = identity
        self.keys = keys
        self.position = position
        self.chunkByteCount = chunkByteCount
        current = ByteWriter(capacity: min(chunkByteCount, 1 << 20))
        nonces = Random.bytes(recordCount * XChaCha20Poly1305.nonceByteCount, drawsOf: XChaCha20Poly1305.nonceByteCount)
    }

    /// Seals one record and returns where it lands in the file.
    mutating func append(_ plaintext: UnsafeRawBufferPointer) -> RecordLocation {
        let nonce = nonces[nonceOffset..<nonceOffset + XChaCha20Poly1305.nonceByteCount]
        nonceOffset += XChaCha20Poly1305.nonceByteCount
        let (frame, tag) = RecordFrame.seal(
            plaintext, nonce: nonce, identity: identity, index: position.count, previousTag: position.lastTag,
            key: keys.record)
        let location = RecordLocation(
            offset: position.offset, index: position.count, previousTag: position.lastTag,
            ciphertextByteCount: UInt32(frame.count - UPV1.recordPrefixByteCount))
        current.append(frame)
        position = ChainPosition(offset: position.offset + frame.count, count: position.count + 1, lastTag: tag)
        if current.bytes.count >= chunkByteCount {
            chunks.append(current.bytes)
            current = ByteWriter(capacity: min(chunkByteCount, 1 << 20))
        }
        return location
    }

    /// The seal over everything appended, and every byte to write (the seal last).
    consuming func finish() -> (chunks: [[UInt8]], seal: [UInt8]) {
        let seal = Seal.encode(
            identity: identity, count: position.count, lastTag: position.lastTag, offset: position.offset,
            key: keys.seal)
        current.append(seal)
        chunks.append(current.bytes)
        return (chunks, seal)
    }
}
