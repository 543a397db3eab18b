import Benchmark
import Foundation
import UPVault

// Argon2id is excluded by using libsodium's minimum cost (1 pass, 8 KiB); its real cost is measured
// separately (README, "Benchmarks"). Vaults live in a temporary directory on the same disk as /tmp.

private let cheapKDF = KDFParameters(opsLimit: 1, memLimit: 8192)
private let cheapLimits = KDFLimits(opsLimit: 1...10, memLimit: 8192...(1 << 30))
private let passphrase = "benchmark passphrase"

private func secure(_ text: String) -> SecureBytes { SecureBytes(copying: Array(text.utf8)) }

private func openVault(_ path: String) throws -> Vault {
    try Vault.open(at: path, passphrase: secure(passphrase), limits: cheapLimits)
}

/// A new vault in a private temporary directory.
private func newVault(_ label: String) throws -> (path: String, vault: Vault) {
    let directory = NSTemporaryDirectory() + "upvault-bench-\(label)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
    let path = directory + "/vault.upv"
    return (path, try Vault.create(at: path, passphrase: secure(passphrase), kdf: cheapKDF))
}

/// A vault with `count` secrets of realistic token size, written in batches of 10,000.
private func makeVault(entries count: Int) throws -> String {
    let (path, vault) = try newVault("\(count)")
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

/// A vault with an app's `count` grants (the shape `upvault import grants` writes), in batches of 10,000.
private func makeGrantVault(grants count: Int) throws -> String {
    let (path, vault) = try newVault("grants-\(count)")
    var next = 0
    while next < count {
        let end = min(next + 10_000, count)
        try vault.write { transaction in
            for i in next..<end { try transaction.put(grant(i)) }
        }
        next = end
    }
    return path
}

private func grant(_ i: Int, generation: Int = 0) -> Grant {
    Grant(
        app: "up", user: "user\(i)", accessToken: "access-\(generation)-\(i)-0123456789abcdef0123",
        refreshToken: "refresh-\(generation)-\(i)-0123456789abcdef", issuedAt: 1_700_000_000,
        expiresAt: 1_731_536_000, lastRefreshAt: 1_700_000_000, secretFingerprint: "85dfbcf951752bba")
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident], maxDuration: .seconds(5))

    let large = try! makeVault(entries: 100_000)
    let small = try! makeVault(entries: 10)

    Benchmark("open, 100,000 entries (scan and verify every record)", configuration: .init(maxIterations: 20)) {
        benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try openVault(large))
        }
    }

    for (label, path) in [("10", small), ("100,000", large)] {
        let vault = try! openVault(path)
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
        let vault = try openVault(large)
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

    // At a million: the open (chunked, every core), and the bulk refresh's own per-grant work on the
    // vault: reading every grant (decrypt and decode), then writing refreshed ones in group commits.
    let million = try! makeGrantVault(grants: 1_000_000)
    Benchmark("open, 1,000,000 grants (scan and verify every record)", configuration: .init(maxIterations: 5)) {
        benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try openVault(million))
        }
    }
    let hundredThousand = try! makeGrantVault(grants: 100_000)
    Benchmark(
        "bulk refresh's read: every grant decrypted and decoded, 100,000 grants",
        configuration: .init(maxIterations: 10)
    ) { benchmark in
        let vault = try openVault(hundredThousand)
        for _ in benchmark.scaledIterations {
            blackHole(try vault.entries(Grant.self).count)
        }
    }
    var round = 0
    Benchmark(
        "bulk refresh's write: a group commit of 256 refreshed grants, 100,000 grants",
        configuration: .init(maxIterations: 100)
    ) { benchmark in
        let vault = try openVault(hundredThousand)
        for _ in benchmark.scaledIterations {
            round += 1
            let base = (round * 256) % 99_000
            try vault.write { transaction in
                for i in base..<(base + 256) { try transaction.put(grant(i, generation: round)) }
            }
        }
    }

    Benchmark("batch of 1,000 puts (one fdatasync), 100,000 entries", configuration: .init(maxIterations: 30)) {
        benchmark in
        let vault = try openVault(large)
        for _ in benchmark.scaledIterations {
            try vault.write { (transaction) throws(VaultError) in
                for i in 0..<1_000 { try transaction.put(EntryKey(.secret, "batch-\(i)"), value: secure("v\(i)")) }
            }
        }
    }
}
