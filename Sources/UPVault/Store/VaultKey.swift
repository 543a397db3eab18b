public import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A vault's master key, proven right by the header's MAC and nothing more: what `upvault unlock`
/// hands to the agent, which then opens (and scans) the vault once. Held in secure memory; it cannot
/// be copied, and only the agent hand-over reads its bytes.
public struct VaultKey: ~Copyable, Sendable {
    let masterKey: SecureBytes

    package init(_ masterKey: consuming SecureBytes) {
        self.masterKey = masterKey
    }

    /// The key's bytes, for handing over to the agent (a pipe only the two processes hold).
    package func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        masterKey.withUnsafeBytes(body)
    }
}

extension Vault {
    /// Opens the vault at `path` with its master key (a copy of `key`); a wrong key is
    /// `wrongPassphraseOrDamagedHeader`.
    public static func open(
        at path: String, key: borrowing VaultKey, anchors: VaultAnchors = .forUser(),
        logger: Logger = Vault.silentLogger
    ) throws(VaultError) -> Vault {
        try open(at: path, masterKey: key.masterKey.duplicate(), anchors: anchors, logger: logger)
    }

    /// Derives the master key of the vault at `path` from its passphrase and checks it against the
    /// header's MAC, without reading the records (Argon2id and a few hundred bytes). Checks the
    /// directory, the file's owner and every slot's Argon2id parameters (`limits`) exactly as `open`
    /// does; what `open` checks beyond the header (records, seal, anchor) is left to whoever opens the
    /// vault with the key.
    public static func unlockKey(
        at path: String, passphrase: borrowing SecureBytes, limits: KDFLimits = .default,
        logger: Logger = Vault.silentLogger
    ) throws(VaultError) -> VaultKey {
        let (file, lockFile) = try openSharedLocked(path)
        defer { lockFile.unlock() }
        let bytes = try file.read(count: UPV1.maximumHeaderByteCount, at: 0)
        let keys = try bytes.withRawBytes { (raw) throws(VaultError) -> VaultKeys in
            let header = try VaultHeader.decode(raw)
            let keys = try Unlock.withPassphrase(passphrase, header: header, limits: limits)
            try header.verifyMAC(in: raw, keys: keys)
            return keys
        }
        logger.debug("derived the vault's key", metadata: ["path": "\(path)"])
        return VaultKey(keys.masterKey.duplicate())
    }
}
