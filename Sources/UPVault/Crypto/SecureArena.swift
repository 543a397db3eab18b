/// Secure memory for many small secrets at once: `sodium_malloc` chunks (4 KiB, doubling up to 1 MiB),
/// handed out by bumping an offset. A batch of thousands of records costs a few allocations instead of thousands
/// (each `sodium_malloc` maps guard pages and locks memory: about 100 µs). Chunks are zeroed and freed
/// with the arena.
final class SecureArena: @unchecked Sendable {
    struct Slot: Sendable {
        var chunk: Int
        var offset: Int
        var count: Int
    }

    static let chunkByteCount = 1 << 20
    private var chunks: [SecureBox] = []
    private var used = 0

    /// `count` bytes of zeroed secure memory.
    func allocate(_ count: Int) -> Slot {
        if chunks.isEmpty || used + count > chunks[chunks.count - 1].bytes.count {
            // Small batches stay small (a 1 MiB locked mapping costs more than the write itself);
            // big ones grow geometrically up to 1 MiB chunks.
            let size = max(count, min(Self.chunkByteCount, 4096 << min(chunks.count, 8)))
            chunks.append(SecureBox(SecureBytes(count: size)))
            used = 0
        }
        let slot = Slot(chunk: chunks.count - 1, offset: used, count: count)
        used += count
        return slot
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
