import Foundation
import Synchronization
import Testing
import UPVaultTesting

@testable import UPVault

/// Every single-bit flip, every truncation and extensions of a small vault: nothing is ever accepted
/// silently. Only a shortened file may open, reported as a torn tail, with exactly the state of a
/// committed prefix.
@Suite struct TamperTests {
    /// Tight bounds, so that a flipped memory bit cannot make a test derive with 512 MiB.
    static let limits = KDFLimits(opsLimit: 1...4, memLimit: 8192...65536)

    struct Fixture {
        let directory = TemporaryDirectory()
        let bytes: [UInt8]
        let headerByteCount: Int
        /// The state after each committed batch, with the offset where that batch ends.
        let states: [(end: Int, contents: [String: String])]
    }

    static func fixture() throws -> Fixture {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        var states: [(Int, [String: String])] = []
        func record() throws {
            states.append((try vault.statistics().fileSize - UPV1.sealByteCount, try contents(of: vault)))
        }
        try record()
        try vault.setSecret(secure("first"), named: "a")
        try record()
        try vault.write { (transaction) throws(VaultError) in
            try transaction.put(EntryKey(.secret, "b"), value: secure("second"))
            try transaction.put(EntryKey(.secret, "c"), value: secure("third"))
        }
        try record()
        try vault.removeSecret(named: "a")
        try record()
        let bytes = fileBytes(vault.path)
        let header = try bytes.withRawBytes { (raw) throws(VaultError) in try VaultHeader.decode(raw) }
        return Fixture(bytes: bytes, headerByteCount: header.byteCount, states: states)
    }

    enum Outcome: Equatable {
        case opened([String: String], tail: TornTail.Kind?)
        case failed(VaultError)
    }

    static func open(_ bytes: [UInt8], in directory: TemporaryDirectory) -> Outcome {
        let path = directory.file("tampered.upv")
        writeBytes(bytes, to: path)
        do {
            let vault = try Vault.open(at: path, passphrase: secure(testPassphrase), limits: limits, anchors: .disabled)
            return .opened(try contents(of: vault), tail: try vault.tail()?.kind)
        } catch let error as VaultError {
            return .failed(error)
        } catch {
            Issue.record("unexpected error \(error)")
            return .failed(.handleUnusable)
        }
    }

    static func isHeaderFailure(_ error: VaultError) -> Bool {
        switch error {
        case .integrity, .wrongPassphraseOrDamagedHeader, .kdfParametersOutOfBounds, .unsupportedFormatVersion: true
        default: false
        }
    }

    @Test func theUntouchedFixtureOpensCleanly() throws {
        let fixture = try Self.fixture()
        #expect(Self.open(fixture.bytes, in: fixture.directory) == .opened(["b": "second", "c": "third"], tail: nil))
    }

    @Test func everySingleBitFlipIsRejected() throws {
        let fixture = try Self.fixture()
        var accepted: [Int] = []
        for bit in 0..<fixture.bytes.count * 8 {
            var bytes = fixture.bytes
            bytes[bit / 8] ^= 1 << UInt8(bit % 8)
            switch Self.open(bytes, in: fixture.directory) {
            case .opened:
                accepted.append(bit)
            case .failed(let error):
                if bit / 8 < fixture.headerByteCount {
                    #expect(Self.isHeaderFailure(error), "bit \(bit): \(error)")
                } else {
                    guard case .integrity = error else {
                        Issue.record("bit \(bit) in the records gave \(error), not an integrity error")
                        continue
                    }
                }
            }
        }
        #expect(accepted.isEmpty, "bit flips accepted at \(accepted)")
    }

    @Test func everyTruncationIsAnErrorOrAReportedTornTailOfACommittedState() throws {
        let fixture = try Self.fixture()
        for length in 0..<fixture.bytes.count {
            let outcome = Self.open(Array(fixture.bytes[0..<length]), in: fixture.directory)
            if length < fixture.headerByteCount {
                guard case .failed(.integrity) = outcome else {
                    Issue.record("truncation to \(length) (inside the header) gave \(outcome)")
                    continue
                }
            } else {
                // The last complete batch is served; the tail is an unfinished batch, or the last
                // batch's seal (missing or cut) when the cut falls at or after that batch's end.
                let committed = fixture.states.last { $0.end <= length }!
                let unsealed = length == committed.end || committed.end == fixture.states.last!.end
                #expect(
                    outcome == .opened(committed.contents, tail: unsealed ? .unsealed : .interruptedWrite),
                    "truncation to \(length)")
            }
        }
    }

    @Test func anyExtensionIsRejected() throws {
        let fixture = try Self.fixture()
        var random = SeededGenerator(seed: 7)
        for extra in [1, 8, 9, 48, 49, 50, 113, 500] {
            for filler in [UInt8(0), 0xFF, 0x52, 0x45] {
                let outcome = Self.open(fixture.bytes + [UInt8](repeating: filler, count: extra), in: fixture.directory)
                #expect(
                    outcome == .failed(.integrity(.dataAfterSeal(offset: fixture.bytes.count - UPV1.sealByteCount))))
            }
            let noise = (0..<extra).map { _ in UInt8.random(in: 0...255, using: &random) }
            guard case .failed(.integrity) = Self.open(fixture.bytes + noise, in: fixture.directory) else {
                Issue.record("random extension of \(extra) bytes was not an integrity error")
                continue
            }
        }
    }

    @Test func recordsCannotBeSwappedOrDroppedFromTheMiddle() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        for name in ["a", "b", "c"] { try vault.setSecret(secure("value-\(name)"), named: name) }
        let bytes = fileBytes(vault.path)
        let header = try bytes.withRawBytes { (raw) throws(VaultError) in try VaultHeader.decode(raw) }
        // All three records have the same length; find their boundaries.
        let frame = (bytes.count - header.byteCount - UPV1.sealByteCount) / 3
        let records = (0..<3).map { Array(bytes[header.byteCount + $0 * frame..<header.byteCount + ($0 + 1) * frame]) }
        let head = Array(bytes[0..<header.byteCount])
        let seal = Array(bytes[(bytes.count - UPV1.sealByteCount)...])
        let swapped = head + records[1] + records[0] + records[2] + seal
        let dropped = head + records[0] + records[2] + seal
        for candidate in [swapped, dropped] {
            guard case .failed(.integrity(.recordAuthentication)) = Self.open(candidate, in: directory) else {
                Issue.record("spliced file was not rejected")
                continue
            }
        }
    }

    @Test func recordsFromAnotherVaultOrGenerationDoNotAuthenticate() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        try vault.setSecret(secure("x"), named: "a")
        let before = fileBytes(vault.path)
        try vault.compact()
        let after = fileBytes(vault.path)
        // Same key, same records, new generation: old records under the new header are rejected.
        let header = try after.withRawBytes { (raw) throws(VaultError) in try VaultHeader.decode(raw) }
        let mixed = Array(after[0..<header.byteCount]) + Array(before[header.byteCount...])
        guard case .failed(.integrity) = Self.open(mixed, in: directory) else {
            Issue.record("records of generation 1 accepted under generation 2")
            return
        }
    }
}

/// KDF parameters are checked before Argon2id runs: a hostile header costs microseconds, not 4 TiB.
@Suite struct KDFBoundsTests {
    static func vaultWithSlotParameters(ops: UInt32, mem: UInt64, in directory: TemporaryDirectory) throws -> String {
        let vault = try makeVault(in: directory)
        var bytes = fileBytes(vault.path)
        let slot = UPV1.fixedHeaderByteCount
        withUnsafeBytes(of: ops.littleEndian) { for (i, b) in $0.enumerated() { bytes[slot + 4 + i] = b } }
        withUnsafeBytes(of: mem.littleEndian) { for (i, b) in $0.enumerated() { bytes[slot + 8 + i] = b } }
        let path = directory.file("hostile.upv")
        writeBytes(bytes, to: path)
        return path
    }

    @Test(arguments: [
        (UInt32.max, UInt64(8192)), (UInt32(1), UInt64(4) << 40), (UInt32(11), UInt64(8 << 20)),
        (UInt32(1), UInt64(2) << 30),
        (UInt32(0), UInt64(8 << 20)), (UInt32(3), UInt64(1 << 20)),
    ])
    func parametersOutsideTheDefaultBoundsFailFast(ops: UInt32, mem: UInt64) throws {
        let directory = TemporaryDirectory()
        let path = try Self.vaultWithSlotParameters(ops: ops, mem: mem, in: directory)
        let counter = Argon2id.Counter()
        Argon2id.$counter.withValue(counter) {
            #expect(throws: VaultError.kdfParametersOutOfBounds(KDFParameters(opsLimit: ops, memLimit: mem))) {
                try Vault.open(at: path, passphrase: secure(testPassphrase))
            }
        }
        let runs = counter.runs.load(ordering: .relaxed)
        #expect(runs == 0, "Argon2id ran \(runs) time(s) on parameters out of bounds")
    }

    /// The counter the test above relies on does count: opening with parameters in bounds runs Argon2id.
    @Test func theDerivationCounterCounts() throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        let counter = Argon2id.Counter()
        try Argon2id.$counter.withValue(counter) { _ = try reopen(vault.path) }
        #expect(counter.runs.load(ordering: .relaxed) >= 1)
    }

    /// A planted header cannot make one open run Argon2id several times: at most one slot of each kind.
    @Test(arguments: [2, 8]) func headersWithSeveralSlotsOfOneKindAreMalformed(copies: Int) throws {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        let bytes = fileBytes(vault.path)
        let header = try bytes.withRawBytes { (raw) throws(VaultError) in try VaultHeader.decode(raw) }
        let planted = VaultHeader(
            vaultID: header.vaultID, generation: header.generation, createdAt: header.createdAt,
            slots: Array(repeating: header.slots[0], count: copies))
        let file = planted.authenticatedBytes() + [UInt8](repeating: 0, count: 32)
        #expect {
            _ = try file.withRawBytes { (raw) throws(VaultError) in try VaultHeader.decode(raw) }
        } throws: { error in
            guard case VaultError.integrity(.malformedHeader) = error else { return false }
            return true
        }
        let path = directory.file("planted.upv")
        writeBytes(file + Array(bytes[header.byteCount...]), to: path)
        let counter = Argon2id.Counter()
        Argon2id.$counter.withValue(counter) {
            #expect(throws: VaultError.self) { try Vault.open(at: path, passphrase: secure(testPassphrase)) }
        }
        #expect(counter.runs.load(ordering: .relaxed) == 0)
    }

    @Test func theDefaultBoundsAreTheDocumentedOnes() {
        #expect(KDFLimits.default.opsLimit == 1...10)
        #expect(KDFLimits.default.memLimit == (8 << 20)...(1 << 30))
        #expect(
            KDFLimits.default.admit(.interactive) && KDFLimits.default.admit(.moderate)
                && KDFLimits.default.admit(.sensitive))
    }
}
