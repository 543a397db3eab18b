// swift-tools-version: 6.1
// In-process benchmarks (ordo-one/benchmark), kept out of the main package so that building and
// testing upvault does not build the benchmark harness. Run: cd Benchmarks && swift package benchmark
import PackageDescription

let package = Package(
    name: "upvault-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "upvault", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "VaultBenchmarks",
            dependencies: [
                .product(name: "UPVault", package: "upvault"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/VaultBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
