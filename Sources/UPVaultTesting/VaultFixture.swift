import UPVault

/// Argon2id at libsodium's minimum cost (1 pass, 8 KiB): tests run the real code path in microseconds.
package let testKDF = KDFParameters(opsLimit: 1, memLimit: 8192)
/// Bounds that admit `testKDF` (the shipped bounds start at 8 MiB).
package let testLimits = KDFLimits(opsLimit: 1...10, memLimit: 8192...(1 << 30))
package let testPassphrase = "correct horse battery staple"

package func secure(_ text: String) -> SecureBytes { SecureBytes(copying: Array(text.utf8)) }

/// A fresh vault at `testKDF` in its own temporary directory, removed with the fixture.
package final class VaultFixture: Sendable {
    package let directory: TemporaryDirectory
    package let vault: Vault

    package init(prefix: String = "upvault-vault") throws {
        directory = TemporaryDirectory(prefix: prefix)
        vault = try Vault.create(at: directory.file("vault.upv"), passphrase: secure(testPassphrase), kdf: testKDF)
    }

    package var path: String { vault.path }
}
