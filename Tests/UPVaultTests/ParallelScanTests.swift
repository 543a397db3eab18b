import Foundation
import Synchronization
import Testing
import UPVaultTesting

@testable import UPVault

/// The scan reads a file in chunks and decrypts each chunk's records on several threads. Whatever
/// the chunking and the number of workers, the outcome (index, committed position, tail, the tag at a
/// mark, or the first error in file order) is exactly that of one worker reading the bytes whole, on
/// the intact file and on damaged and cut copies of it.
@Suite struct ParallelScanTests {
    struct Outcome: Equatable {
        var entries: [String] = []
        var committed: ChainPosition?
        var tail: TornTail?
        var tagAtMark: UPVault.Tag?
        var error: VaultError?
    }

    struct Fixture {
        let directory = TemporaryDirectory()
        let bytes: [UInt8]
        let header: VaultHeader
        let keys: VaultKeys
        /// The file offset after each committed batch.
        let batchEnds: [Int]
    }

    /// About 2,700 records in batches of 1 to 900, with overwrites, deletes and one value far larger
    /// than the test chunk (so the buffer has to grow).
    static func fixture() throws -> Fixture {
        let directory = TemporaryDirectory()
        let vault = try makeVault(in: directory)
        var ends: [Int] = []
        var generator = SeededGenerator(seed: 11)
        var written = 0
        for size in [1, 7, 900, 3, 600, 1, 250, 900, 40] {
            try vault.write { (transaction) throws(VaultError) in
                for _ in 0..<size {
                    // Mostly new names, some overwritten or removed (too few dead records for compaction).
                    let earlier = "s\(Int.random(in: 0...written, using: &generator))"
                    switch Int.random(in: 0..<10, using: &generator) {
                    case 0: transaction.remove(EntryKey(.secret, earlier))
                    case 1: try transaction.put(EntryKey(.secret, earlier), value: secure("again \(written)"))
                    default: try transaction.put(EntryKey(.secret, "s\(written)"), value: secure("value \(written)"))
                    }
                    written += 1
                }
            }
            ends.append(try vault.statistics().fileSize - UPV1.sealByteCount)
        }
        try vault.setSecret(SecureBytes(copying: [UInt8](repeating: 0x61, count: 5000)), named: "large")
        ends.append(try vault.statistics().fileSize - UPV1.sealByteCount)
        let keys = vault.state.withLock { $0.keys }
        let bytes = fileBytes(vault.path)
        let header = try bytes.withRawBytes { (raw) throws(VaultError) in try VaultHeader.decode(raw) }
        #expect(header.generation == 1, "the fixture was compacted: its batch ends are wrong")
        return Fixture(bytes: bytes, header: header, keys: keys, batchEnds: ends)
    }

    static let shared = Result { try fixture() }

    /// One worker over the bytes in memory: the reference.
    static func reference(_ bytes: [UInt8], _ fixture: Fixture, mark: UInt64?) -> Outcome {
        bytes.withUnsafeBytes { raw in
            scan(.bytes(raw, base: 0), fixture, mark: mark, decryption: RecordDecryption(workers: 1))
        }
    }

    /// Three workers (each given as few as 4 records) over the file in chunks of `chunk` bytes.
    static func chunked(_ bytes: [UInt8], _ fixture: Fixture, mark: UInt64?, chunk: Int) -> Outcome {
        let path = fixture.directory.file("copy-\(UUID().uuidString).upv")
        writeBytes(bytes, to: path)
        do {
            let file = try PosixFile.open(path, flags: O_RDONLY)
            return scan(
                .file(file, end: bytes.count), fixture, mark: mark,
                decryption: RecordDecryption(workers: 3, minimumRecordsPerWorker: 4), chunk: chunk)
        } catch {
            Issue.record("cannot open the copy: \(error)")
            return Outcome()
        }
    }

    static func scan(
        _ source: ScanSource, _ fixture: Fixture, mark: UInt64?, decryption: RecordDecryption,
        chunk: Int = LogScanner.chunkByteCount
    ) -> Outcome {
        var index = EntryIndex()
        do {
            let result = try LogScanner.scan(
                source, from: ChainPosition(offset: fixture.header.byteCount, count: 0, lastTag: .zero),
                identity: LogIdentity(fixture.header), keys: fixture.keys, decryption: decryption, into: &index,
                mark: mark, chunkByteCount: chunk)
            let entries = index.sorted().map { "\($0.key) \($0.location.offset) \($0.location.index)" }
            return Outcome(
                entries: entries, committed: result.committed, tail: result.tornTail, tagAtMark: result.tagAtMark)
        } catch {
            return Outcome(error: error)
        }
    }

    @Test(arguments: [200, 4096, 65_536])
    func theIntactFileScansTheSameWhateverTheChunking(chunk: Int) throws {
        let fixture = try Self.shared.get()
        for mark: UInt64? in [nil, 0, 1, 8, 500, 2000, 2702, 5000] {
            let expected = Self.reference(fixture.bytes, fixture, mark: mark)
            #expect(expected.error == nil)
            #expect(expected.entries.count > 2000)
            #expect(Self.chunked(fixture.bytes, fixture, mark: mark, chunk: chunk) == expected)
        }
    }

    @Test func everyCutScansTheSame() throws {
        let fixture = try Self.shared.get()
        var generator = SeededGenerator(seed: 5)
        var lengths = fixture.batchEnds.flatMap { [$0 - 1, $0, $0 + 1, $0 + 30, $0 + UPV1.sealByteCount - 1] }
        lengths += (0..<60).map { _ in Int.random(in: fixture.header.byteCount..<fixture.bytes.count, using: &generator)
        }
        var tails = Set<TornTail.Kind>()
        for length in lengths where length <= fixture.bytes.count {
            let cut = Array(fixture.bytes[0..<length])
            let expected = Self.reference(cut, fixture, mark: 100)
            if let kind = expected.tail?.kind { tails.insert(kind) }
            #expect(Self.chunked(cut, fixture, mark: 100, chunk: 4096) == expected, "cut at \(length)")
        }
        #expect(tails == [.unsealed, .interruptedWrite])
    }

    @Test func everyDamageScansTheSame() throws {
        let fixture = try Self.shared.get()
        var generator = SeededGenerator(seed: 9)
        var errors = Set<String>()
        // Random bytes (mostly ciphertext), and the type byte, length and check of frames that start
        // where a batch ended.
        var offsets = (0..<100).map { _ in
            Int.random(in: fixture.header.byteCount..<fixture.bytes.count, using: &generator)
        }
        offsets += fixture.batchEnds.dropLast().flatMap { [$0, $0 + 1, $0 + 6] }
        offsets += [fixture.bytes.count - 1, fixture.bytes.count - UPV1.sealByteCount]
        for offset in offsets {
            var damaged = fixture.bytes
            damaged[offset] ^= UInt8.random(in: 1...255, using: &generator)
            // Half the time a second flip further on, often in another worker's share: the first in file
            // order must win.
            if Bool.random(using: &generator), offset + 1 < damaged.count {
                damaged[Int.random(in: (offset + 1)..<damaged.count, using: &generator)] ^= 0x40
            }
            let expected = Self.reference(damaged, fixture, mark: nil)
            #expect(expected.error != nil, "a flip at \(offset) was accepted")
            if let error = expected.error { errors.insert(String(describing: error).filter { !$0.isNumber }) }
            #expect(Self.chunked(damaged, fixture, mark: nil, chunk: 4096) == expected, "flip at \(offset)")
        }
        #expect(errors.count >= 4, "\(errors)")
    }
}

/// The compact index behaves as a dictionary keyed by kind and name bytes, through growth, removal
/// (backward-shift deletion) and the compaction of its name buffer.
@Suite struct EntryIndexTests {
    static func location(_ number: Int) -> RecordLocation {
        RecordLocation(
            offset: number, index: UInt64(number), previousTag: UPVault.Tag(low: UInt64(number), high: 7),
            ciphertextByteCount: 80)
    }

    @Test func randomOperationsMatchADictionary() {
        var index = EntryIndex()
        var model: [EntryKey: Int] = [:]
        var generator = SeededGenerator(seed: 3)
        // Long names, so that the removed ones pass the 1 MiB at which the name buffer is compacted.
        let names = (0..<3000).map {
            "n\($0)" + String(repeating: "x", count: Int.random(in: 0..<400, using: &generator))
        }
        for step in 0..<40_000 {
            let key = EntryKey(
                [.secret, .grant][Int.random(in: 0...1, using: &generator)], names.randomElement(using: &generator)!)
            if Int.random(in: 0..<3, using: &generator) == 0 {
                index[key] = nil
                model[key] = nil
            } else {
                index[key] = Self.location(step)
                model[key] = step
            }
        }
        #expect(index.count == model.count)
        for (key, step) in model { #expect(index[key] == Self.location(step)) }
        for name in names.prefix(200) where model[EntryKey(.app, name)] == nil {
            #expect(index[EntryKey(.app, name)] == nil)
        }
        #expect(index.counts()[.secret] == model.keys.filter { $0.kind == .secret }.count)
        #expect(
            index.names(of: .grant)
                == model.keys.filter { $0.kind == .grant }.map(\.name).sorted(by: EntryName.precedes))
        var seen = 0
        try? index.forEachEntry { key, location in
            #expect(model[key].map(Self.location) == location)
            seen += 1
        }
        #expect(seen == model.count)
    }

    @Test func namesCompareAsBytes() {
        var index = EntryIndex()
        index[EntryKey(.secret, "caf\u{E9}")] = Self.location(1)
        index[EntryKey(.secret, "cafe\u{301}")] = Self.location(2)
        #expect(index.count == 2)
        #expect(index[EntryKey(.secret, "caf\u{E9}")] == Self.location(1))
        #expect(index[EntryKey(.app, "caf\u{E9}")] == nil)
    }
}
