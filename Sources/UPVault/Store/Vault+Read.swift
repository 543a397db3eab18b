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
            return try Self.readValue(at: location, key: key, state: state)
        }
    }

    static func readValue(
        at location: RecordLocation, key: EntryKey, state: State
    ) throws(VaultError) -> SecureBytes {
        let frame = try state.file.read(count: location.frameByteCount, at: location.offset)
        guard frame.count == location.frameByteCount else {
            throw .integrity(.fileTooShort(byteCount: location.offset + frame.count))
        }
        let fields = try frame.withRawBytes { (raw) throws(VaultError) -> RecordFields in
            try RecordFrame.open(
                raw, location: location, identity: state.identity, key: state.keys.record, scratch: &state.scratch.bytes
            )
        }
        return try state.scratch.bytes.withUnsafeBytes { (plaintext) throws(VaultError) -> SecureBytes in
            let storedName = String(decoding: plaintext[fields.name], as: UTF8.self)
            guard fields.operation == .put, fields.kind == key.kind, EntryName.same(storedName, key.name) else {
                throw .integrity(.malformedRecord(index: location.index, offset: location.offset))
            }
            return SecureBytes(copying: UnsafeRawBufferPointer(rebasing: plaintext[fields.value]))
        }
    }

    /// Every entry of one kind, under one lock (for bulk work: no per-entry lock and refresh).
    public func forEachValue(
        of kind: EntryKind, _ body: (String, borrowing SecureBytes) throws(VaultError) -> Void
    ) throws(VaultError) {
        try withLockedState(exclusive: false) { (state) throws(VaultError) in
            for name in state.index.names(of: kind) {
                let key = EntryKey(kind, name)
                guard let location = state.index[key] else { continue }
                let value = try Self.readValue(at: location, key: key, state: state)
                try body(key.name, value)
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
