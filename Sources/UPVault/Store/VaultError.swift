/// What can go wrong with a vault file. Messages name files and entries, never secret values.
public enum VaultError: Error, Sendable, Equatable, CustomStringConvertible {
    /// There is no vault at this path (run `upvault init`).
    case vaultNotFound(path: String)
    /// A file already exists where a new vault was to be created; nothing was overwritten.
    case vaultExists(path: String)
    /// A passphrase must not be empty.
    case emptyPassphrase
    /// Argon2id could not run (usually: not enough memory for the slot's memory cost).
    case keyDerivationFailed
    /// No key slot opened with this passphrase or recovery key. A damaged key slot is
    /// indistinguishable from a wrong passphrase by design.
    case wrongPassphraseOrDamagedHeader
    /// The vault has no recovery-key slot.
    case noRecoveryKeySlot
    /// The file is damaged or was tampered with; what was found, and where.
    case integrity(IntegrityFailure)
    /// The file's format version is not one this build reads.
    case unsupportedFormatVersion(UInt16)
    /// A key slot asks for Argon2id costs outside the accepted bounds; nothing was derived.
    case kdfParametersOutOfBounds(KDFParameters)
    /// The vault file or its directory is writable by group or others, or belongs to another user.
    case insecurePermissions(path: String, mode: UInt32, reason: String)
    /// There is no entry of this kind and name.
    case entryNotFound(EntryKey)
    /// A name the vault does not accept (see `EntryName`).
    case invalidName(kind: EntryKind, reason: String)
    /// A value larger than a record can hold (1 MiB).
    case valueTooLarge(byteCount: Int)
    /// A stored entry does not decode as its kind (written by a newer version?).
    case undecodableEntry(EntryKey)
    /// A system call on the vault failed.
    case io(operation: String, path: String, errno: Int32)
    /// `fsync`/`fdatasync` failed. Whether the last write reached the disk is unknown; this handle is
    /// closed for writing (a failed sync is never retried) and the vault must be opened again.
    case syncFailed(path: String, errno: Int32)
    /// An earlier sync failure made this handle unusable; open the vault again.
    case handleUnusable
    /// Another process re-keyed the vault after it was opened here; open it again.
    case rekeyedElsewhere
    /// Another thread or process held this entry's lock for the whole time-out.
    case entryLockTimeout(EntryKey)
    /// The vault's lock file was held by another process for the whole time-out (a command stuck, or
    /// another process of this user holding it on purpose).
    case lockTimeout(path: String, seconds: Int64)
    /// An input file (an import, a template, a config) is larger than its limit; nothing was read from it.
    case fileTooLarge(path: String, maximum: Int)
    /// A file that must be a regular file is something else (a directory, a device, a socket).
    case notARegularFile(path: String)
    /// A conditional write found the entry changed (or created, or removed) by another writer since the
    /// version it was conditioned on; nothing of the batch was written. Read it again and decide again.
    case conflict(EntryKey)

    public var description: String {
        switch self {
        case .vaultNotFound(let path): "no vault at \(path) (create one with 'upvault init')"
        case .vaultExists(let path): "\(path) already exists; refusing to overwrite it"
        case .emptyPassphrase: "the passphrase is empty"
        case .keyDerivationFailed: "Argon2id key derivation failed (not enough memory?)"
        case .wrongPassphraseOrDamagedHeader: "wrong passphrase (or the vault's key slots are damaged)"
        case .noRecoveryKeySlot: "this vault has no recovery key"
        case .integrity(let failure): "vault integrity check failed: \(failure)"
        case .unsupportedFormatVersion(let version): "unsupported vault format version \(version)"
        case .kdfParametersOutOfBounds(let kdf):
            "key slot asks for \(kdf.opsLimit) Argon2id passes and \(kdf.memLimit) bytes of memory, outside the accepted bounds"
        case .insecurePermissions(let path, let mode, let reason):
            "refusing to use \(path): \(reason) (mode \(String(mode & 0o7777, radix: 8)))"
        case .entryNotFound(let key): "no \(key.kind) named '\(key.name)'"
        case .invalidName(let kind, let reason): "invalid \(kind) name: \(reason)"
        case .valueTooLarge(let count): "value of \(count) bytes is larger than the 1 MiB limit"
        case .undecodableEntry(let key): "\(key.kind) '\(key.name)' cannot be decoded (written by a newer upvault?)"
        case .io(let operation, let path, let code): "\(operation) \(path): \(Errno.describe(code))"
        case .syncFailed(let path, let code):
            "syncing \(path) to disk failed (\(Errno.describe(code))); the last change may not be durable"
        case .handleUnusable: "this vault handle is unusable after a failed sync; open the vault again"
        case .rekeyedElsewhere: "the vault was re-keyed by another process; open it again"
        case .entryLockTimeout(let key): "timed out waiting for another process working on \(key.kind) '\(key.name)'"
        case .fileTooLarge(let path, let maximum): "\(path) is larger than \(maximum) bytes"
        case .lockTimeout(let path, let seconds):
            "another process has held \(path) for \(seconds) s (a stuck upvault command?); try again"
        case .notARegularFile(let path): "\(path) is not a regular file"
        case .conflict(let key):
            "\(key.kind) '\(key.name)' was changed by another writer since it was read; nothing was written"
        }
    }
}

/// How a vault file failed its integrity checks.
public enum IntegrityFailure: Sendable, Equatable, CustomStringConvertible {
    static func acceptHint(_ anchor: String?) -> String {
        anchor == nil ? "" : "; if you restored it on purpose, accept it with 'upvault fsck --accept-restore'"
    }

    /// The file is shorter than a header.
    case fileTooShort(byteCount: Int)
    /// The file is larger than any vault this build reads (4 GiB).
    case fileTooLarge(byteCount: Int)
    /// The file does not start with "UPV1".
    case badMagic
    /// A header field is malformed.
    case malformedHeader(String)
    /// The header's MAC does not verify: a field was changed.
    case headerAuthentication
    /// A record frame's length fields are inconsistent or out of range.
    case malformedFrame(offset: Int)
    /// A record does not authenticate: it was changed, moved, reordered or spliced.
    case recordAuthentication(index: UInt64, offset: Int)
    /// A record authenticates but its plaintext is malformed.
    case malformedRecord(index: UInt64, offset: Int)
    /// A frame of unknown type.
    case unknownFrameType(offset: Int, type: UInt8)
    /// A seal follows a batch that was never ended.
    case unterminatedBatch(offset: Int)
    /// The seal does not match the records before it.
    case sealAuthentication(offset: Int)
    /// Bytes follow the seal.
    case dataAfterSeal(offset: Int)
    /// The vault is older than a state already seen: a lower generation, or fewer committed records in
    /// the same generation. `anchor` is the anchor file that saw the newer state; nil when it was this
    /// handle (the file changed under an open vault or the agent).
    case wentBackInTime(
        generation: UInt64, records: UInt64, seenGeneration: UInt64, seenRecords: UInt64, anchor: String?)
    /// The vault has at least as many records as a state already seen in the same generation, but not
    /// that state's history: another copy of the vault. `anchor` as for `wentBackInTime`.
    case divergedHistory(generation: UInt64, records: UInt64, anchor: String?)
    /// The anchor file does not verify with this vault's key: a vault from before a re-key, or a damaged
    /// or forged anchor.
    case anchorUnverifiable(path: String)
    /// A database row does not authenticate: changed, or moved from another entry, version or vault.
    /// `nameHash` is the first 8 bytes of the row's name hash in hex.
    case rowAuthentication(nameHash: String, version: Int64)
    /// A database row's columns or decrypted contents are malformed.
    case malformedRow(nameHash: String, reason: String)
    /// A database row is older than a version of it this handle has already seen: put back from a copy.
    case rowWentBackInTime(nameHash: String, version: Int64, seenVersion: Int64)

    public var description: String {
        switch self {
        case .fileTooShort(let count): "file is too short to be a vault (\(count) bytes)"
        case .fileTooLarge(let count): "file is too large to be a vault (\(count) bytes)"
        case .badMagic: "not an upvault file (bad magic)"
        case .malformedHeader(let reason): "malformed header: \(reason)"
        case .headerAuthentication: "header authentication failed (the header was modified)"
        case .malformedFrame(let offset): "malformed record frame at offset \(offset)"
        case .recordAuthentication(let index, let offset): "record \(index) at offset \(offset) does not authenticate"
        case .malformedRecord(let index, let offset): "record \(index) at offset \(offset) is malformed"
        case .unknownFrameType(let offset, let type):
            "unknown frame type 0x\(String(type, radix: 16)) at offset \(offset)"
        case .unterminatedBatch(let offset): "seal at offset \(offset) follows an unfinished batch"
        case .sealAuthentication(let offset): "seal at offset \(offset) does not match the records"
        case .dataAfterSeal(let offset): "data after the seal at offset \(offset)"
        case .wentBackInTime(let generation, let records, let seenGeneration, let seenRecords, let anchor):
            "the vault went back in time: the file holds generation \(generation) with \(records) records, but "
                + (anchor.map { "its anchor \($0) records" } ?? "this process has already seen")
                + " generation \(seenGeneration) with \(seenRecords) records (restored from a copy, or cut short)"
                + Self.acceptHint(anchor)
        case .divergedHistory(let generation, let records, let anchor):
            "the vault's history (generation \(generation), \(records) records) is not the one "
                + (anchor.map { "its anchor \($0) records" } ?? "this process has seen")
                + " (another copy of the vault)"
                + Self.acceptHint(anchor)
        case .rowAuthentication(let hash, let version):
            "the row with name hash \(hash)… (version \(version)) does not authenticate (changed, or moved from another "
                + "entry, version or vault)"
        case .malformedRow(let hash, let reason): "the row with name hash \(hash)… is malformed: \(reason)"
        case .rowWentBackInTime(let hash, let version, let seen):
            "the row with name hash \(hash)… went back in time: version \(version), after version \(seen) was seen "
                + "(restored from a copy?)"
        case .anchorUnverifiable(let path):
            "the anchor \(path) does not verify with this vault's key (a copy from before a re-key, or a damaged "
                + "anchor)" + Self.acceptHint(path)
        }
    }
}
