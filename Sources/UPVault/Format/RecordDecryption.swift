import Dispatch

/// Decrypts runs of record frames on every core.
///
/// A record's associated data comes from the file (its index, the previous record's tag, its header),
/// so the frames of a chunk can be opened in any order; the caller applies them in file order. Names are
/// copied out with their index hash (the index keeps names on the ordinary heap); values stay in secure
/// scratch buffers, overwritten by the next record and wiped when freed. One handle owns one
/// `RecordDecryption` and uses it under its lock.
struct RecordDecryption: Sendable {
    /// A decrypted record: its parsed fields, where its name is in `Output.names`, and the name's hash
    /// in the index.
    struct Record: Sendable {
        var fields: RecordFields
        var name: Range<Int>
        var hash: Int
    }

    /// The records of one slice of the frames, in file order.
    struct Output: Sendable {
        var records: [Record] = []
        var names: [UInt8] = []
    }

    /// The scratch buffer of a one-thread run (small scans: a refresh after another process's append).
    private let scratch = SecureBox(SecureBytes(count: 4096))
    private let workers: Int
    /// Runs shorter than this per worker are not worth a thread.
    private let minimumRecordsPerWorker: Int

    /// Up to `workers` threads (default: one per online CPU, at most 8).
    init(workers: Int = ProcessImage.onlineProcessorCount(maximum: 8), minimumRecordsPerWorker: Int = 512) {
        self.workers = max(workers, 1)
        self.minimumRecordsPerWorker = max(minimumRecordsPerWorker, 1)
    }

    /// Decrypts and parses every frame in `locations` (all inside `bytes`, which hold the file from
    /// `base`), and runs `alongside` (the index update of the previous chunk) on one of the threads
    /// meanwhile. Returns the records in file order, in slices. Throws the error of the first record, in
    /// file order, that does not authenticate or parse (after `alongside` has run).
    func decrypt(
        _ locations: [RecordLocation], in bytes: UnsafeRawBufferPointer, base: Int, identity: LogIdentity,
        key: borrowing SecureBytes, scratches pool: [SecureBox]? = nil, alongside: (() -> Void)? = nil
    ) throws(VaultError) -> [Output] {
        let threads = min(workers, max(1, locations.count / minimumRecordsPerWorker))
        if threads == 1 && alongside == nil {
            var output = Output()
            let failure = key.withUnsafeBytes { Self.run(locations[...], bytes, base, identity, $0, scratch, &output) }
            if let failure { throw failure }
            return [output]
        }
        // Several slices per thread: the threads take them as they free up, so that the one that ran
        // `alongside` takes fewer. Each slice has its own scratch buffer.
        let scratches = pool ?? makeScratches()
        let sliceCount = threads == 1 ? 1 : min(threads * Self.slicesPerThread, scratches.count)
        let per = max(1, (locations.count + sliceCount - 1) / sliceCount)
        let slices = stride(from: 0, to: locations.count, by: per).map {
            locations[$0..<min(locations.count, $0 + per)]
        }
        var outputs = [Output](repeating: Output(), count: slices.count)
        var failures = [VaultError?](repeating: nil, count: slices.count)
        let extra = alongside == nil ? 0 : 1
        key.withUnsafeBytes { keyBytes in
            outputs.withUnsafeMutableBufferPointer { outputs in
                failures.withUnsafeMutableBufferPointer { failures in
                    let shared = WorkerShares(
                        bytes: bytes, key: keyBytes, outputs: outputs.baseAddress!, failures: failures.baseAddress!,
                        alongside: alongside)
                    DispatchQueue.concurrentPerform(iterations: slices.count + extra) { iteration in
                        if iteration < extra {
                            shared.alongside?()
                            return
                        }
                        let slice = iteration - extra
                        shared.failures[slice] = Self.run(
                            slices[slice], shared.bytes, base, identity, shared.key, scratches[slice],
                            &shared.outputs[slice])
                    }
                }
            }
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
        return outputs
    }

    static let slicesPerThread = 4

    /// Scratch buffers for the slices of one `decrypt` call, to be reused by a scan's later calls.
    func makeScratches() -> [SecureBox] {
        (0..<(workers * Self.slicesPerThread)).map { _ in SecureBox(SecureBytes(count: 4096)) }
    }

    /// Zeroes and frees the scratch buffer (the handle's keys are being wiped).
    func wipe() {
        scratch.bytes = SecureBytes(count: 0)
    }

    private static func run(
        _ locations: ArraySlice<RecordLocation>, _ bytes: UnsafeRawBufferPointer, _ base: Int,
        _ identity: LogIdentity, _ key: UnsafeRawBufferPointer, _ scratch: SecureBox, _ output: inout Output
    ) -> VaultError? {
        output.records.reserveCapacity(locations.count)
        for location in locations {
            let frame = UnsafeRawBufferPointer(
                rebasing: bytes[(location.offset - base)..<(location.offset - base + location.frameByteCount)])
            do {
                let fields = try RecordFrame.open(
                    frame, location: location, identity: identity, key: key, scratch: &scratch.bytes)
                let start = output.names.count
                let hash = scratch.bytes.withUnsafeBytes { plaintext in
                    let name = UnsafeRawBufferPointer(rebasing: plaintext[fields.name])
                    output.names.append(contentsOf: name)
                    return EntryIndex.hash(fields.kind, name)
                }
                output.records.append(Record(fields: fields, name: start..<output.names.count, hash: hash))
            } catch {
                return error
            }
        }
        return nil
    }
}

/// What the threads of one `decrypt` call share: the chunk and the key (read only, alive for the whole
/// call), one output and failure slot per slice, each written by the thread that took the slice and read
/// after `concurrentPerform` returns, and the one `alongside` job, which touches nothing the slices do.
/// The compiler cannot see that disjointness through the pointers.
private struct WorkerShares: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
    let key: UnsafeRawBufferPointer
    let outputs: UnsafeMutablePointer<RecordDecryption.Output>
    let failures: UnsafeMutablePointer<VaultError?>
    let alongside: (() -> Void)?
}
