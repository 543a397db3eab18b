import Benchmark
import Foundation
import UPVault

// Argon2id is excluded by using libsodium's minimum cost (1 pass, 8 KiB); its real cost is measured
// separately (README, "Benchmarks"). Vaults live in a temporary directory on the same disk as /tmp.

private let cheapKDF = KDFParameters(opsLimit: 1, memLimit: 8192)
private let cheapLimits = KDFLimits(opsLimit: 1...10, memLimit: 8192...(1 << 30))
private let passphrase = "benchmark passphrase"

private func secure(_ text: String) -> SecureBytes { SecureBytes(copying: Array(text.utf8)) }

/// A vault with `count` secrets of realistic token size, written in batches of 10,000.
private func makeVault(entries count: Int) throws -> String {
    let directory = NSTemporaryDirectory() + "upvault-bench-\(count)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
    let path = directory + "/vault.upv"
    let vault = try Vault.create(at: path, passphrase: secure(passphrase), kdf: cheapKDF)
    let token = String(repeating: "t", count: 160)
    var next = 0
    while next < count {
        let end = min(next + 10_000, count)
        try vault.write { (transaction) throws(VaultError) in
            for i in next..<end {
                try transaction.put(EntryKey(.secret, "user-\(i)"), value: secure("\(token)-\(i)"))
            }
        }
        next = end
    }
    return path
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident], maxDuration: .seconds(5))

    let large = try! makeVault(entries: 100_000)
    let small = try! makeVault(entries: 10)

    Benchmark("open, 100,000 entries (scan and verify every record)", configuration: .init(maxIterations: 20)) {
        benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try Vault.open(at: large, passphrase: secure(passphrase), limits: cheapLimits))
        }
    }

    for (label, path) in [("10", small), ("100,000", large)] {
        let vault = try! Vault.open(at: path, passphrase: secure(passphrase), limits: cheapLimits)
        var counter = 0
        Benchmark("put (one record + fdatasync), \(label) entries", configuration: .init(maxIterations: 400)) {
            benchmark in
            for _ in benchmark.scaledIterations {
                counter += 1
                try vault.setSecret(secure("value-\(counter)"), named: "user-\(counter % 50)")
            }
        }
        Benchmark("get, \(label) entries") { benchmark in
            for _ in benchmark.scaledIterations {
                let value = try vault.secret(named: "user-7")
                var count = 0
                if let value { count = value.count }
                blackHole(count)
            }
        }
    }

    Benchmark(
        "batch of 1,000 grants (typed entries, one fdatasync), 100,000 entries", configuration: .init(maxIterations: 30)
    ) { benchmark in
        let vault = try Vault.open(at: large, passphrase: secure(passphrase), limits: cheapLimits)
        let grants = (0..<1_000).map { i in
            Grant(
                app: "up", user: "user\(i)", accessToken: "access-token-\(i)-0123456789abcdef",
                refreshToken: "refresh-\(i)-0123456789",
                issuedAt: 1_700_000_000, expiresAt: 1_731_536_000, lastRefreshAt: 1_700_000_000,
                secretFingerprint: "85dfbcf951752bba")
        }
        for _ in benchmark.scaledIterations {
            try vault.write { transaction in
                for grant in grants { try transaction.put(grant) }
            }
        }
    }

    Benchmark("batch of 1,000 puts (one fdatasync), 100,000 entries", configuration: .init(maxIterations: 30)) {
        benchmark in
        let vault = try Vault.open(at: large, passphrase: secure(passphrase), limits: cheapLimits)
        for _ in benchmark.scaledIterations {
            try vault.write { (transaction) throws(VaultError) in
                for i in 0..<1_000 { try transaction.put(EntryKey(.secret, "batch-\(i)"), value: secure("v\(i)")) }
            }
        }
    }
}
