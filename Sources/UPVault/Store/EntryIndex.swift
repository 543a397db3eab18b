#if canImport(Glibc)
import Glibc
#endif

/// Where each live entry's latest record is: the vault's in-memory index, built by scanning the file.
///
/// A compact table rather than a `[EntryKey: RecordLocation]`: one fixed-size row per entry, every name's
/// bytes in one shared buffer and an open-addressing table of row numbers (linear probing, seeded
/// SipHash of kind and name). At a million entries that is about 70 bytes per entry and no allocation per
/// entry, where a dictionary of `String` keys cost several hundred and a hash table rebuilt on growth.
/// Names compare as bytes (`EntryKey`'s rule).
struct EntryIndex: Sendable {
    fileprivate struct Row: Sendable {
        var location: RecordLocation
        var nameStart: UInt32
        var nameCount: UInt16
        var kind: EntryKind
    }

    private var rows: [Row] = []
    /// Rows of removed entries, reused before the table grows.
    private var freeRows: [Int32] = []
    private var names: [UInt8] = []
    /// Bytes of `names` no live row points at.
    private var deadNameBytes = 0
    /// Per slot, 0 (empty) or the row number + 1 in the low 32 bits and the top 32 bits of the entry's
    /// hash in the high ones, so that a probe touches a row only when the hashes agree. The count is a
    /// power of two at least twice the live rows.
    private var slots: [UInt64] = [0, 0, 0, 0, 0, 0, 0, 0]
    private(set) var count = 0

    init(expectedCount: Int = 0) {
        reserve(expectedCount)
    }

    /// Makes room for `count` entries (rows reserved, the table sized), so that filling it does not
    /// rehash on the way.
    mutating func reserve(_ count: Int) {
        guard count > rows.count else { return }
        rows.reserveCapacity(count)
        var capacity = slots.count
        while capacity < count * 2 { capacity *= 2 }
        if capacity > slots.count { resize(to: capacity) }
    }

    // MARK: Lookup and change

    subscript(key: EntryKey) -> RecordLocation? {
        get { key.withNameBytes { self[key.kind, $0] } }
        set {
            key.withNameBytes { name in
                if let newValue { set(key.kind, name, newValue) } else { remove(key.kind, name) }
            }
        }
    }

    subscript(kind: EntryKind, name: UnsafeRawBufferPointer) -> RecordLocation? {
        guard case .found(_, let row) = find(kind, name) else { return nil }
        return rows[row].location
    }

    func contains(_ key: EntryKey) -> Bool { self[key] != nil }

    /// Sets the location of (kind, name); `hash` is `EntryIndex.hash(kind, name)` when the caller has it.
    mutating func set(_ kind: EntryKind, _ name: UnsafeRawBufferPointer, _ location: RecordLocation, hash: Int? = nil) {
        let hash = hash ?? Self.hash(kind, name)
        switch find(kind, name, hash: hash) {
        case .found(_, let row):
            rows[row].location = location
        case .empty(let slot):
            precondition(names.count + name.count <= UInt32.max, "entry names exceed the index's capacity")
            let row = Row(location: location, nameStart: UInt32(names.count), nameCount: UInt16(name.count), kind: kind)
            names.append(contentsOf: name)
            let number: Int
            if let free = freeRows.popLast() {
                number = Int(free)
                rows[number] = row
            } else {
                number = rows.count
                rows.append(row)
            }
            slots[slot] = Self.slotValue(row: number, hash: hash)
            count += 1
            if count * 2 > slots.count { resize(to: slots.count * 2) }
        }
    }

    mutating func remove(_ kind: EntryKind, _ name: UnsafeRawBufferPointer, hash: Int? = nil) {
        guard case .found(var hole, let row) = find(kind, name, hash: hash) else { return }
        deadNameBytes += Int(rows[row].nameCount)
        rows[row].nameCount = 0
        freeRows.append(Int32(row))
        count -= 1
        // Backward-shift deletion: move later members of the probe run into the hole, so lookups
        // never need tombstones.
        let mask = slots.count - 1
        var next = (hole + 1) & mask
        while slots[next] != 0 {
            let home = home(of: slots[next]) & mask
            // The entry at `next` may move to `hole` when its home is not inside (hole, next].
            let distanceToNext = (next - home) & mask
            let distanceToHole = (hole - home) & mask
            if distanceToHole < distanceToNext {
                slots[hole] = slots[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        slots[hole] = 0
        if deadNameBytes > 1 << 20 && deadNameBytes > names.count / 2 { compactNames() }
    }

    // MARK: Enumeration

    /// How many live entries of each kind.
    func counts() -> [EntryKind: Int] {
        var counts: [EntryKind: Int] = [:]
        forEachRow { row in counts[row.kind, default: 0] += 1 }
        return counts
    }

    /// The names of one kind, sorted by their bytes.
    func names(of kind: EntryKind) -> [String] {
        var result: [String] = []
        forEachRow { row in if row.kind == kind { result.append(name(of: row)) } }
        return result.sorted(by: EntryName.precedes)
    }

    /// Every live entry, in no particular order.
    func forEachEntry(_ body: (EntryKey, RecordLocation) throws(VaultError) -> Void) throws(VaultError) {
        for row in rows where row.nameCount > 0 {
            try body(EntryKey(row.kind, name(of: row)), row.location)
        }
    }

    /// Every live entry, by kind and then by name's bytes (the order a rewrite writes them in).
    func sorted() -> [(key: EntryKey, location: RecordLocation)] {
        var result: [(key: EntryKey, location: RecordLocation)] = []
        result.reserveCapacity(count)
        try? forEachEntry { key, location in result.append((key, location)) }
        return result.sorted {
            $0.key.kind == $1.key.kind
                ? EntryName.precedes($0.key.name, $1.key.name) : $0.key.kind.rawValue < $1.key.kind.rawValue
        }
    }

    // MARK: The table

    private enum Probe {
        case found(slot: Int, row: Int)
        case empty(slot: Int)
    }

    private func find(_ kind: EntryKind, _ name: UnsafeRawBufferPointer, hash: Int? = nil) -> Probe {
        let mask = slots.count - 1
        let hash = hash ?? Self.hash(kind, name)
        let fragment = UInt64(UInt(bitPattern: hash) >> 32) << 32
        var slot = hash & mask
        while true {
            let stored = slots[slot]
            if stored == 0 { return .empty(slot: slot) }
            if stored & 0xFFFF_FFFF_0000_0000 == fragment {
                let row = Int(stored & 0xFFFF_FFFF) - 1
                if rows[row].kind == kind && matches(rows[row], name) { return .found(slot: slot, row: row) }
            }
            slot = (slot + 1) & mask
        }
    }

    private static func slotValue(row: Int, hash: Int) -> UInt64 {
        UInt64(UInt(bitPattern: hash) >> 32) << 32 | UInt64(row + 1)
    }

    /// Where a stored slot's probe run starts: its hash's fragment says nothing of the low bits, so
    /// this recomputes the hash from the row.
    private func home(of stored: UInt64) -> Int {
        hash(ofRow: Int(stored & 0xFFFF_FFFF) - 1)
    }

    private func matches(_ row: Row, _ name: UnsafeRawBufferPointer) -> Bool {
        guard Int(row.nameCount) == name.count else { return false }
        return names.withUnsafeBytes { all in
            memcmp(all.baseAddress! + Int(row.nameStart), name.baseAddress!, name.count) == 0
        }
    }

    /// The hash of (kind, name): SipHash under the process's random seed (names can come from
    /// outside, and must not be able to make the table quadratic).
    static func hash(_ kind: EntryKind, _ name: UnsafeRawBufferPointer) -> Int {
        var hasher = Hasher()
        hasher.combine(kind.rawValue)
        hasher.combine(bytes: name)
        return hasher.finalize()
    }

    private func hash(ofRow row: Int) -> Int {
        let stored = rows[row]
        return names.withUnsafeBytes { all in
            Self.hash(stored.kind, UnsafeRawBufferPointer(rebasing: all[Int(stored.nameStart)..<stored.nameEnd]))
        }
    }

    private mutating func resize(to capacity: Int) {
        var fresh = [UInt64](repeating: 0, count: capacity)
        let mask = capacity - 1
        for (number, row) in rows.enumerated() where row.nameCount > 0 {
            let hash = hash(ofRow: number)
            var slot = hash & mask
            while fresh[slot] != 0 { slot = (slot + 1) & mask }
            fresh[slot] = Self.slotValue(row: number, hash: hash)
        }
        slots = fresh
    }

    private mutating func compactNames() {
        var packed: [UInt8] = []
        packed.reserveCapacity(names.count - deadNameBytes)
        for number in rows.indices where rows[number].nameCount > 0 {
            let start = packed.count
            packed.append(contentsOf: names[Int(rows[number].nameStart)..<rows[number].nameEnd])
            rows[number].nameStart = UInt32(start)
        }
        names = packed
        deadNameBytes = 0
    }

    private func forEachRow(_ body: (Row) -> Void) {
        for row in rows where row.nameCount > 0 { body(row) }
    }

    private func name(of row: Row) -> String {
        String(decoding: names[Int(row.nameStart)..<row.nameEnd], as: UTF8.self)
    }
}

extension EntryIndex.Row {
    fileprivate var nameEnd: Int { Int(nameStart) + Int(nameCount) }
}

extension EntryKey {
    /// The name's UTF-8 bytes, without a copy for native strings.
    func withNameBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        var contiguous = name
        contiguous.makeContiguousUTF8()
        return contiguous.utf8.withContiguousStorageIfAvailable { body(UnsafeRawBufferPointer($0)) }!
    }
}
