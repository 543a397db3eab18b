/// The point a vault's history had reached when last seen: its generation, how many records it had
/// committed and the tag of the last one. A handle keeps one in memory; the anchor file keeps one
/// between processes (`Vault/FORMAT.md`, "Anchor").
struct ChainMark: Sendable, Equatable {
    var generation: UInt64
    var count: UInt64
    var lastTag: Tag

    /// How a later look at a vault relates to this mark.
    enum Continuity: Equatable {
        /// The same generation and count, the same last tag.
        case same
        /// A newer generation, or the same generation continued (the old last tag is in the chain).
        case ahead
        /// An older generation, or fewer records in the same generation.
        case behind
        /// The same generation with at least as many records, but another history.
        case diverged
    }

    /// Where `later` stands relative to this mark. `tagAtThisCount` is the tag after `count`
    /// records in `later`'s chain (nil when `later` has fewer records or another generation).
    func continuity(of later: ChainMark, tagAtThisCount: Tag?) -> Continuity {
        if later.generation != generation { return later.generation > generation ? .ahead : .behind }
        if later.count < count { return .behind }
        guard tagAtThisCount == lastTag else { return .diverged }
        return later.count == count ? .same : .ahead
    }
}

/// The anchor file's bytes: `UPVA` ‖ version:u16 ‖ 0:u16 ‖ vault id:16 ‖ generation:u64 ‖
/// count:u64 ‖ last tag:16 ‖ MAC:32, the MAC keyed BLAKE2b-256 with the anchor subkey over
/// `UPV1-anc` ‖ the 56 bytes before it. Little-endian, 88 bytes.
enum AnchorRecord {
    static let magic: [UInt8] = Array("UPVA".utf8)
    static let version: UInt16 = 1
    static let byteCount = 88
    static let authenticatedByteCount = 56

    static func encode(_ mark: ChainMark, vaultID: [UInt8], key: borrowing SecureBytes) -> [UInt8] {
        var writer = ByteWriter(capacity: byteCount)
        writer.append(magic)
        writer.append(version)
        writer.append(UInt16(0))
        writer.append(vaultID)
        writer.append(mark.generation)
        writer.append(mark.count)
        mark.lastTag.append(to: &writer)
        let code = BLAKE2b.authenticationCode(for: UPV1.anchorDomain + writer.bytes, using: key)
        writer.append(code)
        return writer.bytes
    }

    /// The count an anchor claims, read before any key is known (to know which tag to keep while
    /// scanning); nothing is trusted until `decode` verifies the MAC.
    static func claimedCount(_ bytes: [UInt8]) -> UInt64? {
        guard bytes.count == byteCount else { return nil }
        return bytes.withUnsafeBytes { raw in
            var reader = ByteReader(raw, offset: 32)
            return reader.readUInt64()
        }
    }

    /// The mark in `bytes`, or nil when they are not an anchor of `vaultID` under `key`.
    static func decode(_ bytes: [UInt8], vaultID: [UInt8], key: borrowing SecureBytes) -> ChainMark? {
        guard bytes.count == byteCount, Array(bytes[0..<4]) == magic else { return nil }
        let valid = bytes.withUnsafeBytes { raw in
            let message = UPV1.anchorDomain + Array(raw[0..<authenticatedByteCount])
            return message.withUnsafeBytes { message in
                BLAKE2b.isValid(
                    UnsafeRawBufferPointer(rebasing: raw[authenticatedByteCount...]), for: message, using: key)
            }
        }
        guard valid else { return nil }
        return bytes.withUnsafeBytes { (raw) -> ChainMark? in
            var reader = ByteReader(raw, offset: 4)
            guard reader.readUInt16() == version, reader.readUInt16() == 0,
                Array(raw[8..<24]) == vaultID
            else { return nil }
            reader = ByteReader(raw, offset: 24)
            guard let generation = reader.readUInt64(), let count = reader.readUInt64() else { return nil }
            return ChainMark(
                generation: generation, count: count, lastTag: Tag(UnsafeRawBufferPointer(rebasing: raw[40..<56])))
        }
    }
}
