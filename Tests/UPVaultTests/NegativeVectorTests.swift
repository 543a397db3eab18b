import Foundation
import Synchronization
import Testing
import UPVaultTesting

@testable import UPVault

/// Vault/vectors/negative: files a reader must refuse, each with the exact error class FORMAT.md
/// ("Error classes") assigns, and cut files it must open with a reported tail. Checked on every run;
/// `UPVAULT_WRITE_VECTORS=1 swift test --filter NegativeVectorTests` re-makes them from entries.upv.
@Suite(.serialized) struct NegativeVectorTests {
    struct Vector: Codable, Equatable {
        var file: String
        var description: String
        var passphrase: String?
        var recoveryKey: String?
        /// The error class a reader must report (FORMAT.md, "Error classes"); nil when the file opens.
        var error: String?
        /// When the file opens: the tail it reports (`unsealed`, `interrupted_write`) and its entries.
        var tail: String?
        var entries: [String: String]?

        enum CodingKeys: String, CodingKey {
            case file, description, passphrase, error, tail, entries
            case recoveryKey = "recovery_key"
        }
    }

    static let directory = GoldenVectorTests.directory.appendingPathComponent("negative")
    static let passphrase = GoldenVectorTests.passphrase

    /// The class of a failure, as FORMAT.md names it.
    static func errorClass(_ error: VaultError) -> String {
        switch error {
        case .integrity(let failure):
            switch failure {
            case .fileTooShort: "integrity.file_too_short"
            case .fileTooLarge: "integrity.file_too_large"
            case .badMagic: "integrity.bad_magic"
            case .malformedHeader: "integrity.malformed_header"
            case .headerAuthentication: "integrity.header_authentication"
            case .malformedFrame: "integrity.malformed_frame"
            case .recordAuthentication: "integrity.record_authentication"
            case .malformedRecord: "integrity.malformed_record"
            case .unknownFrameType: "integrity.unknown_frame_type"
            case .unterminatedBatch: "integrity.unterminated_batch"
            case .sealAuthentication: "integrity.seal"
            case .dataAfterSeal: "integrity.data_after_seal"
            case .wentBackInTime: "integrity.went_back_in_time"
            case .divergedHistory: "integrity.diverged_history"
            case .anchorUnverifiable: "integrity.anchor_unverifiable"
            case .rowAuthentication: "integrity.row_authentication"
            case .malformedRow: "integrity.malformed_row"
            case .rowWentBackInTime: "integrity.row_went_back_in_time"
            }
        case .unsupportedFormatVersion: "unsupported_version"
        case .kdfParametersOutOfBounds: "kdf_out_of_bounds"
        case .wrongPassphraseOrDamagedHeader: "wrong_passphrase_or_damaged_header"
        case .noRecoveryKeySlot: "no_recovery_key_slot"
        default: "other: \(error)"
        }
    }

    // MARK: Making them

    static func make() throws -> [(Vector, [UInt8])] {
        let source = fileBytes(GoldenVectorTests.directory.appendingPathComponent("entries.upv").path)
        let recovery = try GoldenVectorTests.committedVectors().first { $0.recoveryKey != nil }!
        let headerLength = 184  // one slot: 48 + 104 + 32
        let firstRecord = headerLength
        let firstFrameLength =
            33 + Int(source.withUnsafeBytes { $0.loadLittleEndian(at: firstRecord + 1, as: UInt32.self) })
        let sealStart = source.count - 49
        var made: [(Vector, [UInt8])] = []
        func refused(
            _ file: String, _ error: String, _ description: String, recoveryKey: String? = nil, _ bytes: [UInt8]
        ) {
            made.append(
                (
                    Vector(
                        file: file, description: description, passphrase: recoveryKey == nil ? passphrase : nil,
                        recoveryKey: recoveryKey, error: error), bytes
                ))
        }
        func changed(_ offset: Int, _ transform: (UInt8) -> UInt8) -> [UInt8] {
            var bytes = source
            bytes[offset] = transform(bytes[offset])
            return bytes
        }
        func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
            withUnsafeBytes(of: value.littleEndian) { Array($0) }
        }
        func replacing(_ range: Range<Int>, with new: [UInt8], in bytes: [UInt8] = source) -> [UInt8] {
            var bytes = bytes
            bytes.replaceSubrange(range, with: new)
            return bytes
        }

        refused(
            "short.upv", "integrity.file_too_short", "40 bytes: shorter than the fixed header", Array(source[0..<40]))
        refused(
            "cut-in-header.upv", "integrity.file_too_short",
            "cut after 100 bytes: the fixed header, not the whole header",
            Array(source[0..<100]))
        refused("bad-magic.upv", "integrity.bad_magic", "UPV2 instead of UPV1", changed(3) { _ in 0x32 })
        refused("version-2.upv", "unsupported_version", "version 2", replacing(4..<6, with: littleEndian(UInt16(2))))
        refused(
            "header-length.upv", "integrity.malformed_header", "header length 185 for one slot",
            replacing(6..<8, with: littleEndian(UInt16(185))))
        refused("reserved.upv", "integrity.malformed_header", "reserved byte 41 is 1", changed(41) { _ in 1 })
        refused("slot-count-3.upv", "integrity.malformed_header", "slot count 3", changed(40) { _ in 3 })
        refused("slot-kind.upv", "integrity.malformed_header", "a key slot of kind 3", changed(48) { _ in 3 })
        do {
            // Two passphrase slots: the slot repeated, header length and count adjusted (checked before any
            // key is derived, so the MAC does not matter).
            var bytes = Array(source[0..<40]) + [2] + Array(source[41..<152]) + Array(source[48..<152])
            bytes += Array(source[152...])
            bytes.replaceSubrange(6..<8, with: littleEndian(UInt16(48 + 2 * 104 + 32)))
            refused("two-passphrase-slots.upv", "integrity.malformed_header", "two slots of one kind", bytes)
        }
        refused(
            "kdf-ops-11.upv", "kdf_out_of_bounds", "opslimit 11, above the bounds (checked before Argon2id runs)",
            replacing(52..<56, with: littleEndian(UInt32(11))))
        refused(
            "kdf-mem-4mib.upv", "kdf_out_of_bounds", "memlimit 4 MiB, below the bounds",
            replacing(56..<64, with: littleEndian(UInt64(4 << 20))))
        refused(
            "slot-flip.upv", "wrong_passphrase_or_damaged_header", "one bit of the wrapped master key flipped",
            changed(48 + 60) { $0 ^ 1 })
        refused(
            "slot-salt-flip.upv", "wrong_passphrase_or_damaged_header", "one bit of the slot's salt flipped",
            changed(48 + 16) { $0 ^ 0x80 })
        refused(
            "no-recovery-slot.upv", "no_recovery_key_slot", "opened with a recovery key; the vault has none",
            recoveryKey: recovery.recoveryKey, source)
        refused(
            "created-flip.upv", "integrity.header_authentication", "one bit of the created time flipped",
            changed(32) { $0 ^ 1 })
        refused(
            "header-mac-flip.upv", "integrity.header_authentication", "one bit of the header MAC flipped",
            changed(headerLength - 1) { $0 ^ 1 })
        refused(
            "frame-check.upv", "integrity.malformed_frame", "the first record's ~n does not match n",
            changed(firstRecord + 5) { $0 ^ 1 })
        refused(
            "frame-n.upv", "integrity.malformed_frame", "n = 81 (not 16 + a multiple of 64), ~n consistent",
            replacing(firstRecord + 1..<firstRecord + 9, with: littleEndian(UInt32(81)) + littleEndian(~UInt32(81))))
        refused(
            "record-flip.upv", "integrity.record_authentication", "one bit of the first record's ciphertext flipped",
            changed(firstRecord + 40) { $0 ^ 1 })
        refused(
            "record-nonce-flip.upv", "integrity.record_authentication", "one bit of the first record's nonce flipped",
            changed(firstRecord + 9) { $0 ^ 1 })
        do {
            let second = firstRecord + firstFrameLength
            let secondLength =
                33 + Int(source.withUnsafeBytes { $0.loadLittleEndian(at: second + 1, as: UInt32.self) })
            let swapped =
                Array(source[0..<firstRecord]) + Array(source[second..<second + secondLength])
                + Array(source[firstRecord..<second]) + Array(source[(second + secondLength)...])
            refused("records-swapped.upv", "integrity.record_authentication", "the first two records swapped", swapped)
            let dropped = Array(source[0..<second]) + Array(source[(second + secondLength)...])
            refused(
                "record-dropped.upv", "integrity.record_authentication", "the second record removed", dropped)
        }
        refused(
            "frame-type.upv", "integrity.unknown_frame_type", "the first record's type byte is X",
            changed(firstRecord) { _ in 0x58 })
        refused(
            "seal-flip.upv", "integrity.seal", "one bit of the seal's MAC flipped", changed(source.count - 1) { $0 ^ 1 }
        )
        refused(
            "seal-count.upv", "integrity.seal", "the seal counts 5 records where there are 6",
            replacing(sealStart + 9..<sealStart + 17, with: littleEndian(UInt64(5))))
        refused(
            "seal-marker.upv", "integrity.seal", "a seal marker byte is 0xFE", changed(sealStart + 1) { _ in 0xFE })
        refused("data-after-seal.upv", "integrity.data_after_seal", "one zero byte after the seal", source + [0])

        // Authentic records that break the rules: made with the vault's own keys.
        let vault = try Vault.open(
            at: GoldenVectorTests.directory.appendingPathComponent("entries.upv").path, passphrase: secure(passphrase),
            anchors: .disabled)
        try vault.state.withLock { (state) throws(VaultError) in
            func log(_ plaintexts: [[UInt8]]) -> [UInt8] {
                var writer = LogWriter(
                    identity: state.identity, keys: state.keys,
                    after: ChainPosition(offset: headerLength, count: 0, lastTag: .zero), recordCount: plaintexts.count)
                for plaintext in plaintexts { _ = plaintext.withUnsafeBytes { writer.append($0) } }
                return Array(source[0..<headerLength]) + writer.finish().chunks.joined()
            }
            func plaintext(endsBatch: Bool, reserved: UInt8 = 0) -> [UInt8] {
                var bytes = RecordFrame.plaintext(
                    operation: .put, kind: .secret, endsBatch: endsBatch, name: Array("x".utf8),
                    value: UnsafeRawBufferPointer(start: nil, count: 0)
                ).withUnsafeBytes { Array($0) }
                bytes[3] = reserved
                return bytes
            }
            refused(
                "unterminated-batch.upv", "integrity.unterminated_batch",
                "a valid seal after a record without the end-of-batch flag", log([plaintext(endsBatch: false)]))
            refused(
                "record-reserved.upv", "integrity.malformed_record",
                "an authentic record whose reserved plaintext byte is 1", log([plaintext(endsBatch: true, reserved: 1)])
            )
        }

        // Cut files: they open, with the state of the last complete batch and the tail reported.
        let entries = try GoldenVectorTests.committedVectors().first { $0.file == "entries.upv" }!.entries
        made.append(
            (
                Vector(
                    file: "cut-seal.upv", description: "the seal cut after 40 of its 49 bytes: unsealed",
                    passphrase: passphrase, tail: "unsealed", entries: entries), Array(source[0..<source.count - 9])
            ))
        made.append(
            (
                Vector(
                    file: "cut-no-seal.upv", description: "the seal removed: unsealed (a cut at a batch boundary)",
                    passphrase: passphrase, tail: "unsealed", entries: entries), Array(source[0..<sealStart])
            ))
        var beforeLast = entries
        beforeLast["secret/unicode"] = nil
        made.append(
            (
                Vector(
                    file: "cut-in-record.upv",
                    description: "cut 20 bytes into the last record: an interrupted write; the batches before it",
                    passphrase: passphrase, tail: "interrupted_write", entries: beforeLast),
                Array(source[0..<sealStart - 20])
            ))
        return made
    }

    @Test func writeWhenAsked() throws {
        guard ProcessInfo.processInfo.environment["UPVAULT_WRITE_VECTORS"] == "1" else { return }
        try? FileManager.default.removeItem(at: Self.directory)
        try FileManager.default.createDirectory(at: Self.directory, withIntermediateDirectories: true)
        let made = try Self.make()
        for (vector, bytes) in made {
            try Data(bytes).write(to: Self.directory.appendingPathComponent(vector.file))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try (encoder.encode(made.map(\.0)) + Data("\n".utf8)).write(
            to: Self.directory.appendingPathComponent("negative.json"))
    }

    // MARK: Checking them

    @Test func everyNegativeVectorGivesItsClass() throws {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent("negative.json"))
        let vectors = try JSONDecoder().decode([Vector].self, from: data)
        #expect(vectors.count >= 30)
        for vector in vectors {
            let scratch = TemporaryDirectory()
            let path = scratch.file(vector.file)
            try FileManager.default.copyItem(
                atPath: Self.directory.appendingPathComponent(vector.file).path, toPath: path)
            do {
                // The shipped bounds, and no anchor: each file is judged on its own.
                let vault =
                    if let recovery = vector.recoveryKey {
                        try Vault.open(
                            at: path, recoveryKey: try RecoveryKeyText.parse(secure(recovery)), anchors: .disabled)
                    } else {
                        try Vault.open(at: path, passphrase: secure(vector.passphrase ?? ""), anchors: .disabled)
                    }
                var found: [String: String] = [:]
                for kind in EntryKind.allCases {
                    for name in try vault.names(of: kind) {
                        found[GoldenVectorTests.entryKey(kind, name)] = text(try vault.value(for: EntryKey(kind, name)))
                    }
                }
                #expect(vector.error == nil, "\(vector.file) opened; a reader must fail with \(vector.error ?? "")")
                #expect(try vault.tail()?.kind.rawValue == vector.tail, "\(vector.file)")
                #expect(found == vector.entries, "\(vector.file)")
            } catch let error as VaultError {
                #expect(Self.errorClass(error) == vector.error, "\(vector.file): \(error)")
            }
        }
    }
}
