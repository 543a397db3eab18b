// swift-tools-version: 6.1
//
// upvault: an encrypted vault for OAuth client credentials and user tokens.
//
// Modules are split by dependency weight: an app that only needs secure storage imports `UPVault`
// and pulls in nothing but libsodium and swift-log. The CLI adds swift-argument-parser.
import PackageDescription

let package = Package(
    name: "upvault",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "UPVault", targets: ["UPVault"]),
        .executable(name: "upvault", targets: ["upvault"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
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
        .executableTarget(
            name: "upvault",
            dependencies: [
                "UPVault",
                "CPosixShims",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Drives the store from child processes for the crash and concurrency tests (not a product).
        .executableTarget(
            name: "upvault-test-helper",
            dependencies: ["UPVault"]
        ),
        .testTarget(
            name: "UPVaultTests",
            dependencies: ["UPVault", "upvault-test-helper"]
        ),
        .testTarget(
            name: "UPVaultEndToEndTests",
            dependencies: ["upvault"]
        ),
    ]
)

for target in package.targets where target.type != .system && target.name != "CPosixShims" {
    var settings = target.swiftSettings ?? []
    settings.append(contentsOf: [
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("MemberImportVisibility"),
        .enableUpcomingFeature("InternalImportsByDefault"),
    ])
    target.swiftSettings = settings
}
