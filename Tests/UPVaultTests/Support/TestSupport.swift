import Foundation
import Testing
import UPVaultTesting

@testable import UPVault

func text(_ bytes: borrowing SecureBytes?) -> String? {
    switch bytes {
    case .some(let value): return value.utf8String()
    case .none: return nil
    }
}

/// A fresh vault at minimal KDF cost.
func makeVault(in directory: TemporaryDirectory, name: String = "vault.upv") throws -> Vault {
    try Vault.create(at: directory.file(name), passphrase: secure(testPassphrase), kdf: testKDF)
}

func reopen(_ path: String) throws -> Vault {
    try Vault.open(at: path, passphrase: secure(testPassphrase), limits: testLimits)
}

func fileBytes(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path) ?? Data()) }
func writeBytes(_ bytes: [UInt8], to path: String) {
    FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600])
}

/// Every secret's value, for comparing a vault with a model.
func contents(of vault: Vault) throws -> [String: String] {
    var result: [String: String] = [:]
    for name in try vault.secretNames() {
        result[name] = text(try vault.secret(named: name))
    }
    return result
}
