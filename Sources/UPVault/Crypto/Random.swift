internal import CSodium
import Synchronization

/// Every random byte upvault uses (keys, salts, nonces, vault ids) comes from here.
///
/// Production code always reads libsodium's `randombytes_buf`. Tests that make the golden vectors in
/// `Vault/vectors` install a seeded generator through the internal `withDeterministicRandomness`,
/// which only a `@testable import` can reach. The generator is task-local: tests running at the same
/// time in other tasks keep drawing real randomness and cannot shift the stream.
enum Random {
    final class Seeded: Sendable {
        let stream: Mutex<DeterministicStream>
        init(seed: UInt8) { stream = Mutex(DeterministicStream(seed: seed)) }
    }

    @TaskLocal static var deterministic: Seeded?

    static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        Sodium.ensureInitialized()
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        if let seeded = deterministic {
            seeded.stream.withLock { $0.fill(buffer) }
        } else {
            randombytes_buf(base, buffer.count)
        }
    }

    static func bytes(_ count: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { fill($0) }
        return result
    }

    /// `count` bytes made of draws of `drawSize` (nonces): one request to the system when random, and,
    /// under a deterministic stream, the same bytes as `count / drawSize` separate draws.
    static func bytes(_ count: Int, drawsOf drawSize: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { buffer in
            guard deterministic != nil else { return fill(buffer) }
            for start in stride(from: 0, to: count, by: drawSize) {
                fill(UnsafeMutableRawBufferPointer(rebasing: buffer[start..<min(count, start + drawSize)]))
            }
        }
        return result
    }

    /// Runs `body` with every random byte drawn from a stream seeded by `seed`. Test use only.
    static func withDeterministicRandomness<R>(seed: UInt8, _ body: () throws -> R) rethrows -> R {
        try $deterministic.withValue(Seeded(seed: seed)) { try body() }
    }
}

/// libsodium's `randombytes_buf_deterministic` over a 32-byte seed, with a counter mixed into the
/// seed for each draw so that successive draws differ.
struct DeterministicStream: Sendable {
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
