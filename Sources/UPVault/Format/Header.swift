/// The vault header: identity, generation and key slots, authenticated as a whole by a keyed BLAKE2b
/// code under a subkey of the master key.
struct VaultHeader: Equatable, Sendable {
    var vaultID: [UInt8]
    var generation: UInt64
    var createdAt: UInt64
    var slots: [KeySlot]

    var byteCount: Int { UPV1.headerByteCount(slotCount: slots.count) }

    /// The header bytes without the MAC.
    func authenticatedBytes() -> [UInt8] {
        var writer = ByteWriter(capacity: byteCount)
        writer.append(UPV1.magic)
        writer.append(UPV1.version)
        writer.append(UInt16(byteCount))
        writer.append(vaultID)
        writer.append(generation)
        writer.append(createdAt)
        writer.append(UInt8(slots.count))
        writer.append(UInt8(0))
        writer.append(UInt16(0))
        writer.append(UInt32(0))
        for slot in slots { slot.encode(into: &writer) }
        return writer.bytes
    }

    /// The complete header, MAC included.
    func encoded(keys: VaultKeys) -> [UInt8] {
        encoded(macKey: keys.headerMAC)
    }

    /// The complete header, its MAC under `macKey` (a file's or a database's header subkey).
    func encoded(macKey: borrowing SecureBytes) -> [UInt8] {
        let body = authenticatedBytes()
        return body + BLAKE2b.authenticationCode(for: body, using: macKey)
    }

    /// Parses the header at the start of `file` (structure only: the MAC needs the master key, which
    /// needs a slot, which needs this parse). Returns the header and its length.
    static func decode(_ file: UnsafeRawBufferPointer) throws(VaultError) -> VaultHeader {
        var reader = ByteReader(file)
        guard file.count >= UPV1.fixedHeaderByteCount else { throw .integrity(.fileTooShort(byteCount: file.count)) }
        guard let magic = reader.readBytes(4), magic == UPV1.magic else { throw .integrity(.badMagic) }
        let version = reader.readUInt16()!
        guard version == UPV1.version else { throw .unsupportedFormatVersion(version) }
        let declaredLength = Int(reader.readUInt16()!)
        let vaultID = reader.readBytes(UPV1.vaultIDByteCount)!
        let generation = reader.readUInt64()!
        let createdAt = reader.readUInt64()!
        let slotCount = Int(reader.readUInt8()!)
        let reserved8 = reader.readUInt8()!
        let reserved16 = reader.readUInt16()!
        let reserved32 = reader.readUInt32()!
        guard reserved8 == 0, reserved16 == 0, reserved32 == 0 else {
            throw .integrity(.malformedHeader("reserved header field not zero"))
        }
        guard (1...UPV1.maximumSlotCount).contains(slotCount) else {
            throw .integrity(.malformedHeader("slot count \(slotCount) outside 1...\(UPV1.maximumSlotCount)"))
        }
        guard declaredLength == UPV1.headerByteCount(slotCount: slotCount) else {
            throw .integrity(.malformedHeader("header length \(declaredLength) does not match \(slotCount) slots"))
        }
        guard file.count >= declaredLength else { throw .integrity(.fileTooShort(byteCount: file.count)) }
        var slots: [KeySlot] = []
        for _ in 0..<slotCount {
            let slot = try KeySlot.decode(&reader)
            guard !slots.contains(where: { $0.kind == slot.kind }) else {
                throw .integrity(.malformedHeader("two key slots of one kind"))
            }
            slots.append(slot)
        }
        return VaultHeader(vaultID: vaultID, generation: generation, createdAt: createdAt, slots: slots)
    }

    /// Checks the header MAC stored after the header body in `file`.
    func verifyMAC(in file: UnsafeRawBufferPointer, keys: VaultKeys) throws(VaultError) {
        try verifyMAC(in: file, macKey: keys.headerMAC)
    }

    func verifyMAC(in file: UnsafeRawBufferPointer, macKey: borrowing SecureBytes) throws(VaultError) {
        let bodyLength = byteCount - UPV1.headerMACByteCount
        let body = UnsafeRawBufferPointer(rebasing: file[0..<bodyLength])
        let code = UnsafeRawBufferPointer(rebasing: file[bodyLength..<byteCount])
        guard BLAKE2b.isValid(code, for: body, using: macKey) else {
            throw .integrity(.headerAuthentication)
        }
    }
}
