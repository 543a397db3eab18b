import Testing

@testable import UPVault

/// A batch's secure memory is reused, never handed out with an earlier batch's bytes in it.
@Suite struct SecureArenaTests {
    func filledArena(_ pool: SecureChunkPool, sizes: [Int], byte: UInt8) {
        let arena = SecureArena(pool: pool)
        for size in sizes {
            let slot = arena.allocate(size)
            arena.withMutableBytes(slot) { $0.initializeMemory(as: UInt8.self, repeating: byte) }
        }
    }

    func zeroed(_ arena: SecureArena, _ slot: SecureArena.Slot) -> Bool {
        arena.withBytes(slot) { $0.allSatisfy { $0 == 0 } }
    }

    @Test func aReusedChunkComesBackZeroed() {
        let pool = SecureChunkPool(maximumChunks: 4)
        // Three chunks (4 KiB, 8 KiB, 16 KiB), each written into, then given back.
        filledArena(pool, sizes: [3000, 3000, 6000, 9000], byte: 0xA5)
        #expect(pool.count == 3)
        let arena = SecureArena(pool: pool)
        let slots = [4096, 8192, 16384].map { arena.allocate($0) }
        #expect(pool.count == 0, "every chunk taken from the pool")
        for slot in slots { #expect(zeroed(arena, slot)) }
    }

    @Test func thePoolKeepsAtMostItsBound() {
        let pool = SecureChunkPool(maximumChunks: 2)
        var arenas: [SecureArena]? = (0..<5).map { _ in SecureArena(pool: pool) }
        withExtendedLifetime(arenas) {
            for arena in arenas! { _ = arena.allocate(100) }
            #expect(pool.count == 0)
            filledArena(pool, sizes: [100], byte: 1)
            #expect(pool.count == 1)
        }
        arenas = nil
        #expect(pool.count == 2, "the rest freed")
        #expect(pool.take(atLeast: 1 << 20) == nil, "no chunk that small is handed out for a larger need")
        #expect(pool.take(atLeast: 100) != nil && pool.count == 1)
    }
}
