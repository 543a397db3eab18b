/// A store that can hand over every entry of a kind in one pass (the file vault and the database vault),
/// for copying a whole vault.
package protocol EntrySource: AnyObject {
    /// Calls `body` with each entry of `kind`: its name and value bytes (valid during the call).
    func forEachEntry(of kind: EntryKind, _ body: (String, UnsafeRawBufferPointer) throws -> Void) throws
}

extension Vault: EntrySource {
    package func forEachEntry(of kind: EntryKind, _ body: (String, UnsafeRawBufferPointer) throws -> Void) throws {
        var failure: (any Error)?
        try forEachValueBytes(of: kind) { (name, _, value) throws(VaultError) in
            guard failure == nil else { return }
            do { try body(name, value) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}

/// Copying every entry of a vault into an empty one, and checking the copy: what `upvault migrate` does
/// between a file and a database. The copy is checked by reading the destination again and comparing
/// each entry's keyed digest (under a key drawn for this copy) with the source's.
package enum EntryCopy {
    package struct Manifest: Sendable {
        package var counts: [EntryKind: Int] = [:]
        var digests: [EntryKey: [UInt8]] = [:]
        let key = SecureBox(SecureBytes.random(count: 32))

        func digest(_ key: EntryKey, _ value: UnsafeRawBufferPointer) -> [UInt8] {
            let name = Array(key.name.utf8)
            var input = [key.kind.rawValue] + withUnsafeBytes(of: UInt32(name.count).littleEndian, Array.init) + name
            input.append(contentsOf: value)
            defer { Sodium.wipe(&input) }
            return BLAKE2b.authenticationCode(for: input, using: self.key.bytes)
        }
    }

    /// Copies every entry of every kind from `source` to `destination` in batches of `batchSize`, each
    /// put conditional on the entry being absent there. `progress` gets the running count.
    package static func copy(
        from source: any EntrySource, to destination: any VaultStore, batchSize: Int = 500,
        progress: (Int) -> Void = { _ in }
    ) throws -> Manifest {
        var manifest = Manifest()
        var batch = VaultTransaction()
        var pending = 0
        var total = 0
        func flush() throws {
            guard pending > 0 else { return }
            let prepared = batch
            try destination.write { $0 = prepared }
            batch = VaultTransaction()
            pending = 0
            progress(total)
        }
        for kind in EntryKind.allCases {
            try source.forEachEntry(of: kind) { name, value in
                let key = EntryKey(kind, name)
                try batch.put(key, bytes: value, condition: .absent)
                manifest.digests[key] = manifest.digest(key, value)
                manifest.counts[kind, default: 0] += 1
                pending += 1
                total += 1
                if pending >= batchSize { try flush() }
            }
        }
        try flush()
        return manifest
    }

    /// Whether `copy` holds exactly the entries of `manifest`, byte for byte.
    package static func matches(_ copy: any EntrySource, _ manifest: Manifest) throws -> Bool {
        var seen = 0
        var same = true
        for kind in EntryKind.allCases {
            try copy.forEachEntry(of: kind) { name, value in
                let key = EntryKey(kind, name)
                seen += 1
                if manifest.digests[key] != manifest.digest(key, value) { same = false }
            }
        }
        return same && seen == manifest.digests.count
    }
}
