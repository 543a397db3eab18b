import Synchronization

/// Secure memory for many small secrets at once: `sodium_malloc` chunks (4 KiB, doubling up to 1 MiB),
/// handed out by bumping an offset. A batch of thousands of records costs a few allocations instead of thousands
/// (each `sodium_malloc` maps guard pages and locks memory: about 100 µs). When the arena goes, the bytes
/// it handed out are zeroed and its chunks go back to `SecureChunkPool` for the next batch (or are freed
/// when the pool is full).
final class SecureArena: @unchecked Sendable {
    struct Slot: Sendable {
        var chunk: Int
        var offset: Int
        var count: Int
    }

    static let chunkByteCount = 1 << 20
    private let pool: SecureChunkPool
    private var chunks: [SecureBox] = []
    /// The bytes handed out of each chunk (what is wiped when the arena goes).
    private var usedPerChunk: [Int] = []
    private var used = 0

    /// `count` bytes of zeroed secure memory.
    func allocate(_ count: Int) -> Slot {
        if chunks.isEmpty || used + count > chunks[chunks.count - 1].bytes.count {
            // Small batches stay small (a 1 MiB locked mapping costs more than the write itself);
            // big ones grow geometrically up to 1 MiB chunks.
            let size = max(count, min(Self.chunkByteCount, 4096 << min(chunks.count, 8)))
            chunks.append(pool.take(atLeast: size) ?? SecureBox(SecureBytes(count: size)))
            usedPerChunk.append(0)
            used = 0
        }
        let slot = Slot(chunk: chunks.count - 1, offset: used, count: count)
        used += count
        usedPerChunk[chunks.count - 1] = used
        return slot
    }

    init(pool: SecureChunkPool = .shared) {
        self.pool = pool
    }

    deinit {
        for (chunk, used) in zip(chunks, usedPerChunk) { pool.give(chunk, used: used) }
    }

    func withBytes<R, E: Error>(_ slot: Slot, _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try chunks[slot.chunk].bytes.withUnsafeBytes { (all) throws(E) -> R in
            try body(UnsafeRawBufferPointer(rebasing: all[slot.offset..<slot.offset + slot.count]))
        }
    }

    func withMutableBytes<R, E: Error>(
        _ slot: Slot, _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try chunks[slot.chunk].bytes.withUnsafeMutableBytes { (all) throws(E) -> R in
            try body(UnsafeMutableRawBufferPointer(rebasing: all[slot.offset..<slot.offset + slot.count]))
        }
    }
}

/// Secure chunks given back by finished arenas, zeroed, for the next batch: a batch of writes takes its
/// memory from here instead of mapping, locking, unlocking and unmapping fresh pages for every chunk
/// (seven system calls and the page faults each, about a twentieth of a bulk refresh's CPU). At most
/// `maximumChunks` are kept (each at most 1 MiB but for a rare larger record); the rest are freed.
final class SecureChunkPool: Sendable {
    /// The pool every arena uses.
    static let shared = SecureChunkPool(maximumChunks: 8)

    let maximumChunks: Int
    private let free = Mutex<[SecureBox]>([])

    init(maximumChunks: Int) {
        self.maximumChunks = maximumChunks
    }

    /// A zeroed chunk of at least `size` bytes, if one is waiting.
    func take(atLeast size: Int) -> SecureBox? {
        free.withLock { free in
            guard let index = free.firstIndex(where: { $0.bytes.count >= size }) else { return nil }
            return free.remove(at: index)
        }
    }

    /// Takes `chunk` back after zeroing its first `used` bytes (the rest were never handed out and
    /// are still zero), or lets it be freed (`sodium_free` wipes it) when the pool is full.
    func give(_ chunk: SecureBox, used: Int) {
        chunk.bytes.withUnsafeMutableBytes { bytes in
            Sodium.wipe(UnsafeMutableRawBufferPointer(rebasing: bytes[0..<min(used, bytes.count)]))
        }
        free.withLock { free in
            if free.count < maximumChunks { free.append(chunk) }
        }
    }

    /// The chunks waiting.
    var count: Int { free.withLock { $0.count } }
}
