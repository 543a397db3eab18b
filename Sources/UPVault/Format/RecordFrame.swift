/// One record of the log: the encrypted form of a put or a delete.
///
/// Frame: `R` ‖ n:u32 ‖ ~n:u32 ‖ nonce:24 ‖ ciphertext:n (tag last). The plaintext is
/// op:u8 ‖ kind:u8 ‖ flags:u8 ‖ 0:u8 ‖ nameLength:u16 ‖ valueLength:u32 ‖ name ‖ value, padded with
/// `sodium_pad` to a multiple of 64 bytes.
enum RecordOperation: UInt8, Sendable {
    case put = 1
    case delete = 2
}

/// Where a record sits in the file and in the chain: all a reader needs to decrypt it again.
struct RecordLocation: Sendable, Equatable {
    var offset: Int
    var index: UInt64
    var previousTag: Tag
    var ciphertextByteCount: UInt32

    var frameByteCount: Int { UPV1.recordPrefixByteCount + Int(ciphertextByteCount) }
}

/// The parsed fields of a decrypted record; name and value are ranges in the plaintext buffer.
struct RecordFields {
    var operation: RecordOperation
    var kind: EntryKind
    var endsBatch: Bool
    var name: Range<Int>
    var value: Range<Int>
}

/// The identity of the log a record belongs to.
struct LogIdentity: Sendable, Equatable {
    var vaultID: [UInt8]
    var generation: UInt64
}

extension LogIdentity {
    init(_ header: VaultHeader) {
        self.init(vaultID: header.vaultID, generation: header.generation)
    }
}

enum RecordFrame {
    static let endOfBatchFlag: UInt8 = 0x01

    static func associatedData(
        identity: LogIdentity, index: UInt64, previousTag: Tag, frameHeader: UnsafeRawBufferPointer
    ) -> [UInt8] {
        var writer = ByteWriter(capacity: 65)
        writer.append(UPV1.recordDomain)
        writer.append(identity.vaultID)
        writer.append(identity.generation)
        writer.append(index)
        previousTag.append(to: &writer)
        writer.append(frameHeader)
        return writer.bytes
    }

    /// "UPV1-rec" ‖ vault id ‖ generation ‖ index ‖ previous tag ‖ frame header.
    static let associatedDataByteCount = 8 + UPV1.vaultIDByteCount + 8 + 8 + 16 + UPV1.recordHeaderByteCount

    /// `associatedData` written into `out` (exactly `associatedDataByteCount` bytes).
    static func writeAssociatedData(
        into out: UnsafeMutableRawBufferPointer, identity: LogIdentity, index: UInt64, previousTag: Tag,
        frameHeader: UnsafeRawBufferPointer
    ) {
        precondition(out.count == associatedDataByteCount && identity.vaultID.count == UPV1.vaultIDByteCount)
        var cursor = 0
        func put(_ bytes: UnsafeRawBufferPointer) {
            out.baseAddress!.advanced(by: cursor).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            cursor += bytes.count
        }
        UPV1.recordDomain.withUnsafeBytes(put)
        identity.vaultID.withUnsafeBytes(put)
        withUnsafeBytes(of: identity.generation.littleEndian, put)
        withUnsafeBytes(of: index.littleEndian, put)
        withUnsafeBytes(of: previousTag, put)
        put(frameHeader)
    }

    static func frameHeader(ciphertextByteCount n: UInt32) -> [UInt8] {
        var writer = ByteWriter(capacity: UPV1.recordHeaderByteCount)
        writer.append(UPV1.recordFrameType)
        writer.append(n)
        writer.append(~n)
        return writer.bytes
    }

    /// The padded plaintext of a record, built in secure memory.
    static func plaintext(
        operation: RecordOperation, kind: EntryKind, endsBatch: Bool, name: [UInt8],
        value: UnsafeRawBufferPointer
    ) -> SecureBytes {
        var plaintext = SecureBytes(count: plaintextByteCount(nameCount: name.count, valueCount: value.count))
        plaintext.withUnsafeMutableBytes { out in
            writePlaintext(into: out, operation: operation, kind: kind, endsBatch: endsBatch, name: name, value: value)
        }
        return plaintext
    }

    /// The padded length of a record's plaintext.
    static func plaintextByteCount(nameCount: Int, valueCount: Int) -> Int {
        Padding.paddedLength(UPV1.payloadHeaderByteCount + nameCount + valueCount, blockSize: UPV1.paddingBlockSize)
    }

    /// Writes a record's padded plaintext into `out`, which is exactly `plaintextByteCount` long.
    static func writePlaintext(
        into out: UnsafeMutableRawBufferPointer, operation: RecordOperation, kind: EntryKind, endsBatch: Bool,
        name: [UInt8], value: UnsafeRawBufferPointer
    ) {
        let unpadded = UPV1.payloadHeaderByteCount + name.count + value.count
        var header = ByteWriter(capacity: UPV1.payloadHeaderByteCount)
        header.append(operation.rawValue)
        header.append(kind.rawValue)
        header.append(endsBatch ? endOfBatchFlag : 0)
        header.append(UInt8(0))
        header.append(UInt16(name.count))
        header.append(UInt32(value.count))
        var cursor = 0
        for chunk in [header.bytes, name] {
            chunk.withUnsafeBytes {
                out.baseAddress!.advanced(by: cursor).copyMemory(from: $0.baseAddress!, byteCount: $0.count)
            }
            cursor += chunk.count
        }
        if let source = value.baseAddress, value.count > 0 {
            out.baseAddress!.advanced(by: cursor).copyMemory(from: source, byteCount: value.count)
        }
        let padded = Padding.pad(out, length: unpadded, blockSize: UPV1.paddingBlockSize)
        precondition(padded == out.count)
    }

    /// Encrypts a plaintext (in secure memory) into a complete frame at chain position (index,
    /// previousTag) under a fresh random `nonce`. Returns the frame bytes and the record's tag.
    static func seal(
        _ plaintext: UnsafeRawBufferPointer, nonce: ArraySlice<UInt8>, identity: LogIdentity, index: UInt64,
        previousTag: Tag, key: borrowing SecureBytes
    ) -> (frame: [UInt8], tag: Tag) {
        precondition(nonce.count == XChaCha20Poly1305.nonceByteCount)
        let n = UInt32(plaintext.count + XChaCha20Poly1305.tagByteCount)
        let header = frameHeader(ciphertextByteCount: n)
        let nonce = Array(nonce)
        let ad = header.withUnsafeBytes {
            associatedData(identity: identity, index: index, previousTag: previousTag, frameHeader: $0)
        }
        let ciphertext = XChaCha20Poly1305.seal(plaintext, nonce: nonce, associatedData: ad, using: key)
        let tag = ciphertext.withUnsafeBytes { Tag(UnsafeRawBufferPointer(rebasing: $0[(ciphertext.count - 16)...])) }
        return (header + nonce + ciphertext, tag)
    }

    /// Decrypts the frame at the start of `frame` into `scratch` and parses it. `frame` holds at least
    /// the whole frame. Throws an integrity error when the record does not authenticate or parse.
    static func open(
        _ frame: UnsafeRawBufferPointer, location: RecordLocation, identity: LogIdentity,
        key: borrowing SecureBytes, scratch: inout SecureBytes
    ) throws(VaultError) -> RecordFields {
        try key.withUnsafeBytes { (key) throws(VaultError) -> RecordFields in
            try open(frame, location: location, identity: identity, key: key, scratch: &scratch)
        }
    }

    /// `open` with the record key's bytes (held open by the caller, shared by worker threads).
    static func open(
        _ frame: UnsafeRawBufferPointer, location: RecordLocation, identity: LogIdentity,
        key: UnsafeRawBufferPointer, scratch: inout SecureBytes
    ) throws(VaultError) -> RecordFields {
        let n = Int(location.ciphertextByteCount)
        let plaintextCount = n - XChaCha20Poly1305.tagByteCount
        if scratch.count < plaintextCount {
            scratch = SecureBytes(count: Swift.max(plaintextCount, scratch.count * 2))
        }
        let nonce = UnsafeRawBufferPointer(rebasing: frame[UPV1.recordHeaderByteCount..<UPV1.recordPrefixByteCount])
        let ciphertext = UnsafeRawBufferPointer(
            rebasing: frame[UPV1.recordPrefixByteCount..<UPV1.recordPrefixByteCount + n])
        // The associated data on the stack: no allocation per record (a scan opens a million).
        let authentic = withUnsafeTemporaryAllocation(byteCount: associatedDataByteCount, alignment: 8) { ad in
            writeAssociatedData(
                into: ad, identity: identity, index: location.index, previousTag: location.previousTag,
                frameHeader: UnsafeRawBufferPointer(rebasing: frame[0..<UPV1.recordHeaderByteCount]))
            return scratch.withUnsafeMutableBytes { out in
                XChaCha20Poly1305.open(
                    ciphertext, nonce: nonce, associatedData: UnsafeRawBufferPointer(ad), usingKeyBytes: key,
                    into: UnsafeMutableRawBufferPointer(rebasing: out[0..<plaintextCount]))
            }
        }
        guard authentic else {
            throw .integrity(.recordAuthentication(index: location.index, offset: location.offset))
        }
        return try scratch.withUnsafeBytes { (all) throws(VaultError) -> RecordFields in
            let plaintext = UnsafeRawBufferPointer(rebasing: all[0..<plaintextCount])
            guard let fields = parse(plaintext) else {
                throw .integrity(.malformedRecord(index: location.index, offset: location.offset))
            }
            return fields
        }
    }

    static func parse(_ plaintext: UnsafeRawBufferPointer) -> RecordFields? {
        guard let length = Padding.unpaddedLength(plaintext, blockSize: UPV1.paddingBlockSize),
            length >= UPV1.payloadHeaderByteCount
        else { return nil }
        guard let operation = RecordOperation(rawValue: plaintext[0]),
            let kind = EntryKind(rawValue: plaintext[1])
        else { return nil }
        let flags = plaintext[2]
        guard flags & ~endOfBatchFlag == 0, plaintext[3] == 0 else { return nil }
        let nameLength = Int(plaintext.loadLittleEndian(at: 4, as: UInt16.self))
        let valueLength = Int(plaintext.loadLittleEndian(at: 6, as: UInt32.self))
        guard (1...UPV1.maximumNameByteCount).contains(nameLength), valueLength <= UPV1.maximumValueByteCount,
            UPV1.payloadHeaderByteCount + nameLength + valueLength == length
        else { return nil }
        if operation == .delete && valueLength != 0 { return nil }
        let nameStart = UPV1.payloadHeaderByteCount
        let valueStart = nameStart + nameLength
        let name = UnsafeRawBufferPointer(rebasing: plaintext[nameStart..<valueStart])
        // Names are ASCII in practice (EntryName's rule for writers); anything else is checked in full.
        guard name.allSatisfy({ $0 < 0x80 }) || String(validating: name, as: UTF8.self) != nil else { return nil }
        return RecordFields(
            operation: operation, kind: kind, endsBatch: flags & endOfBatchFlag != 0,
            name: nameStart..<valueStart, value: valueStart..<valueStart + valueLength)
    }
}

/// The seal that ends a well-formed file: `E` ‖ 0xFF×8 ‖ count:u64 ‖ mac:32, where mac is keyed BLAKE2b
/// (seal subkey) of "UPV1-sea" ‖ vault id ‖ generation ‖ count ‖ last tag ‖ seal offset.
enum Seal {
    static func code(
        identity: LogIdentity, count: UInt64, lastTag: Tag, offset: Int, key: borrowing SecureBytes
    ) -> [UInt8] {
        var writer = ByteWriter(capacity: 72)
        writer.append(UPV1.sealDomain)
        writer.append(identity.vaultID)
        writer.append(identity.generation)
        writer.append(count)
        lastTag.append(to: &writer)
        writer.append(UInt64(offset))
        return BLAKE2b.authenticationCode(for: writer.bytes, using: key)
    }

    static func encode(
        identity: LogIdentity, count: UInt64, lastTag: Tag, offset: Int, key: borrowing SecureBytes
    ) -> [UInt8] {
        var writer = ByteWriter(capacity: UPV1.sealByteCount)
        writer.append(UPV1.sealFrameType)
        writer.append([UInt8](repeating: 0xFF, count: 8))
        writer.append(count)
        writer.append(code(identity: identity, count: count, lastTag: lastTag, offset: offset, key: key))
        return writer.bytes
    }

    static func isValid(
        _ bytes: UnsafeRawBufferPointer, identity: LogIdentity, count: UInt64, lastTag: Tag, offset: Int,
        key: borrowing SecureBytes
    ) -> Bool {
        guard bytes.count == UPV1.sealByteCount, bytes[0] == UPV1.sealFrameType,
            bytes[1..<9].allSatisfy({ $0 == 0xFF }),
            bytes.loadLittleEndian(at: 9, as: UInt64.self) == count
        else { return false }
        let expected = code(identity: identity, count: count, lastTag: lastTag, offset: offset, key: key)
        return expected.withUnsafeBytes { Sodium.constantTimeEqual($0, UnsafeRawBufferPointer(rebasing: bytes[17...])) }
    }
}
