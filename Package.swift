// swift-tools-version: 6.1
//
// upvault: an encrypted vault for OAuth client credentials and user tokens.
//
// Modules are split by dependency weight: an app that only needs secure storage imports `UPVault`
// and pulls in nothing but libsodium and swift-log. `UPVaultOAuth` adds the HTTP stack
// (async-http-client); the CLI adds swift-argument-parser; only the sandbox provider pulls in Hummingbird.
import PackageDescription

let package = Package(
    name: "upvault",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "UPVault", targets: ["UPVault"]),
        .library(name: "UPVaultOAuth", targets: ["UPVaultOAuth"]),
        .library(name: "UPVaultPostgres", targets: ["UPVaultPostgres"]),
        .executable(name: "upvault", targets: ["upvault"]),
        .executable(name: "upvault-cli", targets: ["upvault-cli"]),
        .executable(name: "upvault-sandbox", targets: ["upvault-sandbox"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // Debian's libsodium-dev; nothing but Sources/UPVault/Crypto imports it.
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        // The few lines of C that Glibc hides from Swift (variadic prctl, termios with signals).
        .target(name: "CPosixShims"),
        .target(
            name: "UPVault",
            dependencies: [
                "CSodium",
                "CPosixShims",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The same store on PostgreSQL, for apps on many machines: beside UPVault, a product of its own, so
        // an app that only imports UPVault builds and links no Postgres code.
        .target(
            name: "UPVaultPostgres",
            dependencies: [
                "UPVault",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The OAuth 2.0 flows on the vault: the only module that does HTTP.
        .target(
            name: "UPVaultOAuth",
            dependencies: [
                "UPVault",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The agent: holds the unlocked vault and serves its owner's processes on a Unix socket,
        // running the OAuth flows in its own process (not a product: apps talk to it through UPVault).
        .target(
            name: "UPVaultAgent",
            dependencies: [
                "UPVault",
                "UPVaultOAuth",
                "CPosixShims",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The command scripts run in loops: `upvault token` and `upvault secret get` answered through the
        // agent by a small binary (UPVault only: it starts in half the time of the full CLI); anything
        // else replaces itself with upvault-cli, which is installed beside it.
        .executableTarget(
            name: "upvault",
            dependencies: ["UPVault", "CPosixShims"],
            // Linked fully static in release (glibc and libsodium too): no dynamic loader, no library search
            // and relocation at each start, which was most of a `token` call. Tests link debug builds, so
            // the flag never reaches a test link.
            linkerSettings: [.unsafeFlags(["-static-executable"], .when(configuration: .release))]
        ),
        .executableTarget(
            name: "upvault-cli",
            dependencies: [
                "UPVault",
                "UPVaultOAuth",
                "UPVaultPostgres",
                "UPVaultAgent",
                "CPosixShims",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A local provider that behaves like Jawbone UP did, with switches and fault injection: a
        // library (so tests run it in-process) and a thin executable.
        .target(
            name: "UPVaultSandbox",
            dependencies: [
                "UPVault",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ]
        ),
        .executableTarget(
            name: "upvault-sandbox",
            dependencies: [
                "UPVault",
                "UPVaultSandbox",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Drives the store from child processes for the crash and concurrency tests (not a product).
        .executableTarget(
            name: "upvault-test-helper",
            dependencies: ["UPVault", "UPVaultPostgres"]
        ),
        // What every test target shares: temporary directories, the vault fixture, the CLI harness and
        // the one sandbox launcher (a process, or in-process). Not a product.
        // Fuzz targets for every parser of untrusted bytes (scripts/fuzz.sh builds it with libFuzzer);
        // without -D FUZZING it replays inputs. Not a product.
        .executableTarget(
            name: "upvault-fuzz",
            dependencies: ["UPVault", "UPVaultOAuth", "UPVaultAgent", "UPVaultPostgres"]
        ),
        .target(
            name: "UPVaultTesting",
            dependencies: [
                "UPVault", "UPVaultSandbox",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .testTarget(
            name: "UPVaultTests",
            dependencies: ["UPVault", "UPVaultTesting", "upvault-test-helper"]
        ),
        // The store conformance suite: one set of tests on the file vault and on PostgreSQL, and the
        // database-level tamper tests.
        .testTarget(
            name: "UPVaultStoreTests",
            dependencies: [
                "UPVault", "UPVaultPostgres", "UPVaultTesting", "upvault-test-helper",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "UPVaultAgentTests",
            dependencies: [
                "UPVaultAgent", "UPVaultOAuth", "UPVault", "UPVaultTesting",
                .product(name: "InMemoryLogging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "UPVaultOAuthTests",
            dependencies: [
                "UPVaultOAuth", "UPVaultSandbox", "UPVaultTesting",
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ]
        ),
        .testTarget(
            name: "UPVaultEndToEndTests",
            dependencies: [
                "upvault", "upvault-cli", "upvault-sandbox", "UPVault", "UPVaultTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ]
)

for target in package.targets where target.type != .system && target.name != "CPosixShims" {
    var settings = target.swiftSettings ?? []
    settings.append(contentsOf: [
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("MemberImportVisibility"),
    ])
    // No C type crosses a public API. The testing target hands Foundation and UPVault types to tests.
    if target.name != "UPVaultTesting" { settings.append(.enableUpcomingFeature("InternalImportsByDefault")) }
    target.swiftSettings = settings
}
