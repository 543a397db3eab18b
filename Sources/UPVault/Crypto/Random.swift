internal import CSodium
import Synchronization

/// Every random byte upvault uses (keys, salts, nonces, vault ids) comes from here.
///
/// Production code always reads libsodium's `randombytes_buf`. Tests that make the golden vectors in
/// `Vault/vectors` install a seeded generator through the internal `withDeterministicRandomness`,
/// which only a `@testable import` can reach.
enum Random {
    private static let deterministic = Mutex<DeterministicStream?>(nil)

    static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        Sodium.ensureInitialized()
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        let handled = deterministic.withLock { stream -> Bool in
            guard stream != nil else { return false }
            stream!.fill(buffer)
            return true
        }
        if !handled {
            randombytes_buf(base, buffer.count)
        }
    }

    static func bytes(_ count: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { fill($0) }
        return result
    }

    /// Runs `body` with every random byte drawn from a stream seeded by `seed`. Test use only.
    static func withDeterministicRandomness<R>(seed: UInt8, _ body: () throws -> R) rethrows -> R {
        deterministic.withLock { $0 = DeterministicStream(seed: seed) }
        defer { deterministic.withLock { $0 = nil } }
        return try body()
    }
}

/// libsodium's `randombytes_buf_deterministic` over a 32-byte seed, with a counter mixed into the
/// seed for each draw so that successive draws differ.
private struct DeterministicStream {
    private var seed: [UInt8]
    private var counter: UInt64 = 0

    init(seed: UInt8) {
        self.seed = [UInt8](repeating: seed, count: Int(randombytes_SEEDBYTES))
    }

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        counter += 1
        var drawSeed = seed
        withUnsafeBytes(of: counter.littleEndian) { counterBytes in
            for (index, byte) in counterBytes.enumerated() { drawSeed[index] ^= byte }
        }
        drawSeed.withUnsafeBufferPointer { seedPointer in
            randombytes_buf_deterministic(buffer.baseAddress!, buffer.count, seedPointer.baseAddress!)
        }
    }
}
