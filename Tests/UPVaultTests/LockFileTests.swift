import Foundation
import Testing
import UPVaultTesting

@testable import UPVault

/// `<vault>.lock`: never through a link, never another user's or a writable one, never waited on forever.
@Suite struct LockFileTests {
    @Test func aSymbolicLinkInPlaceOfTheLockFileIsRefusedAndNothingIsCreatedWhereItPoints() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        let lock = Vault.lockPath(for: vault.path)
        try FileManager.default.removeItem(atPath: lock)
        let target = directory.file("planted")
        try FileManager.default.createSymbolicLink(atPath: lock, withDestinationPath: target)
        #expect(throws: VaultError.self) { _ = try reopen(vault.path) }
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test func aLockFileOthersCanWriteIsRefused() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        let lock = Vault.lockPath(for: vault.path)
        chmod(lock, 0o666)
        #expect {
            _ = try reopen(vault.path)
        } throws: { error in
            guard case VaultError.insecurePermissions(let path, _, _) = error else { return false }
            return path == lock
        }
    }

    @Test(.enabled(if: geteuid() == 0, "needs root to give the lock file to another user"))
    func anotherUsersLockFileIsRefused() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        let lock = Vault.lockPath(for: vault.path)
        chown(lock, 65534, 65534)
        #expect {
            _ = try reopen(vault.path)
        } throws: { error in
            guard case VaultError.insecurePermissions(_, _, let reason) = error else { return false }
            return reason.contains("uid 65534")
        }
    }

    @Test func aLockHeldElsewhereIsWaitedForOnlyUntilTheTimeOut() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        // flock belongs to the open file description: a second one, held here, blocks the vault's.
        let holder = open(Vault.lockPath(for: vault.path), O_RDWR | O_CLOEXEC)
        #expect(flock(holder, LOCK_EX) == 0)
        vault.lockTimeout = .milliseconds(100)
        #expect(throws: VaultError.lockTimeout(path: Vault.lockPath(for: vault.path), seconds: 0)) {
            try vault.setSecret(secure("v"), named: "n")
        }
        #expect(FailureCategory(of: VaultError.lockTimeout(path: "p", seconds: 0)) == .busy)
        close(holder)
        try vault.setSecret(secure("v"), named: "n")
        #expect(try vault.secret(named: "n")?.utf8String() == "v")
    }
}
