public import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Reading entries.
extension Vault {
    /// The raw value of an entry, decrypted into secure memory, or nil when there is none.
    public func value(for key: EntryKey) throws(VaultError) -> SecureBytes? {
        try withLockedState(exclusive: false) { (state) throws(VaultError) -> SecureBytes? in
            guard let location = state.index[key] else { return nil }
            return try Self.withValue(at: location, key: key, state: state) { SecureBytes(copying: $0) }
        }
    }

    /// The value of an entry with its version, or nil when there is none.
    public func versionedValue(for key: EntryKey) throws(VaultError) -> VersionedValue? {
        try withLockedState(exclusive: false) { (state) throws(VaultError) -> VersionedValue? in
            guard let location = state.index[key] else { return nil }
            let value = try Self.withValue(at: location, key: key, state: state) { SecureBytes(copying: $0) }
            return VersionedValue(
                value: value, version: EntryVersion(generation: state.header.generation, record: location.index))
        }
    }

    /// Decrypts the record at `location` into the handle's scratch buffer (secure memory, overwritten by
    /// the next read) and calls `body` with the value's bytes: no secure allocation per read.
    static func withValue<R: ~Copyable>(
        at location: RecordLocation, key: EntryKey, state: State,
        _ body: (UnsafeRawBufferPointer) throws(VaultError) -> R
    ) throws(VaultError) -> R {
        let frame = try state.file.read(count: location.frameByteCount, at: location.offset)
        guard frame.count == location.frameByteCount else {
            throw .integrity(.fileTooShort(byteCount: location.offset + frame.count))
        }
        let fields = try frame.withRawBytes { (raw) throws(VaultError) -> RecordFields in
            try RecordFrame.open(
                raw, location: location, identity: state.identity, key: state.keys.record, scratch: &state.scratch.bytes
            )
        }
        return try state.scratch.bytes.withUnsafeBytes { (plaintext) throws(VaultError) -> R in
            let storedName = UnsafeRawBufferPointer(rebasing: plaintext[fields.name])
            let sameName = key.withNameBytes { $0.elementsEqual(storedName) }
            guard fields.operation == .put, fields.kind == key.kind, sameName else {
                throw .integrity(.malformedRecord(index: location.index, offset: location.offset))
            }
            return try body(UnsafeRawBufferPointer(rebasing: plaintext[fields.value]))
        }
    }

    /// Every entry of one kind, under one lock (for bulk work: no per-entry lock and refresh).
    public func forEachValue(
        of kind: EntryKind, _ body: (String, borrowing SecureBytes) throws(VaultError) -> Void
    ) throws(VaultError) {
        try forEachValueBytes(of: kind) { (name, _, bytes) throws(VaultError) in
            try body(name, SecureBytes(copying: bytes))
        }
    }

    /// Every entry of one kind, sorted by name, under one lock: its name, version and value's bytes
    /// (in the scratch buffer, valid during the call).
    package func forEachValueBytes(
        of kind: EntryKind, _ body: (String, EntryVersion, UnsafeRawBufferPointer) throws(VaultError) -> Void
    ) throws(VaultError) {
        try withLockedState(exclusive: false) { (state) throws(VaultError) in
            let generation = state.header.generation
            for name in state.index.names(of: kind) {
                let key = EntryKey(kind, name)
                guard let location = state.index[key] else { continue }
                let version = EntryVersion(generation: generation, record: location.index)
                try Self.withValue(at: location, key: key, state: state) { (bytes) throws(VaultError) in
                    try body(name, version, bytes)
                }
            }
        }
    }

    /// The current version of each key (nil: no such entry), under one lock and one look at the file.
    package func versions(of keys: [EntryKey]) throws(VaultError) -> [EntryVersion?] {
        try withLockedState(exclusive: false) { state in
            keys.map { key in
                state.index[key].map { EntryVersion(generation: state.header.generation, record: $0.index) }
            }
        }
    }

    /// The names of all entries of one kind, sorted.
    public func names(of kind: EntryKind) throws(VaultError) -> [String] {
        try withLockedState(exclusive: false) { state in
            state.index.names(of: kind)
        }
    }

    /// Whether an entry exists.
    public func contains(_ key: EntryKey) throws(VaultError) -> Bool {
        try withLockedState(exclusive: false) { state in state.index[key] != nil }
    }
}

/// Which write an entry's current value came from. Any write of the entry gives it a new version, so an
/// unchanged version means an unchanged value: what a conditional write (`VaultTransaction.put(_:value:ifVersion:)`)
/// and bulk work check instead of reading the entry again. In a vault file it is the record that holds the
/// value (a rewrite of the file gives every entry a new one); in a database, the row's version.
public struct EntryVersion: Hashable, Sendable, CustomStringConvertible {
    package var generation: UInt64
    package var record: UInt64

    package init(generation: UInt64, record: UInt64) {
        self.generation = generation
        self.record = record
    }

    public var description: String { "\(generation).\(record)" }
}

/// An entry's value with the version it was read at.
public struct VersionedValue: ~Copyable, Sendable {
    public let value: SecureBytes
    public let version: EntryVersion

    package init(value: consuming SecureBytes, version: EntryVersion) {
        self.value = value
        self.version = version
    }

    /// The value, giving up the rest.
    public consuming func takeValue() -> SecureBytes { value }
}
