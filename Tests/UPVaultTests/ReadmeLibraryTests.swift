import Testing
import UPVault
import UPVaultTesting

/// README's "From Swift" snippet, as written there (plain `import UPVault`, public API only).
@Suite struct ReadmeLibraryTests {
    @Test func theSwiftSnippetWorks() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("vault.upv")
        _ = try Vault.create(
            at: path, passphrase: SecureBytes(copying: Array("pass".utf8)),
            kdf: KDFParameters(opsLimit: 1, memLimit: 8 << 20))
        let passphrase = SecureBytes(copying: Array("pass".utf8))
        // --- README ---
        let vault = try Vault.open(at: path, passphrase: passphrase)  // passphrase: SecureBytes
        try vault.setSecret(SecureBytes(copying: Array("value".utf8)), named: "github-token")
        let value = try vault.secret(named: "github-token")  // SecureBytes?, in sodium_malloc memory
        try vault.write { batch in  // one fdatasync for the whole batch
            try batch.put(EntryKey(.secret, "a"), value: SecureBytes(copying: Array("1".utf8)))
            batch.remove(EntryKey(.secret, "b"))
        }
        // --- end ---
        var read: String? = nil
        if let value { read = value.utf8String() }
        #expect(read == "value")
        #expect(try vault.secretNames() == ["a", "github-token"])
    }
}
