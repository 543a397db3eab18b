#if canImport(Glibc)
import Glibc
#endif

/// The elements of a JSON array in a file, one at a time, in bounded memory whatever the file's size:
/// a buffer of `chunkByteCount` that holds the element being read (an element longer than
/// `maximumElementByteCount` is refused). The buffer is wiped when the stream ends: import files hold
/// tokens.
package struct JSONArrayStream {
    package enum Failure: Error, Equatable, Sendable {
        /// The file could not be opened or read (the reason names no content).
        case unreadable(String)
        /// Not a JSON array, or an element is not JSON; the element's position.
        case malformed(element: Int)
        /// One element is longer than the limit.
        case elementTooLarge(element: Int)
    }

    package static let chunkByteCount = 1 << 20
    package static let maximumElementByteCount = 1 << 20

    /// Calls `body` with each element's bytes (valid during the call) and its position, from the first.
    /// Returns the number of elements. A file that is not a regular file, or a symbolic link, is
    /// `unreadable`.
    @discardableResult
    package static func forEachElement<E: Error>(
        inFile path: String, _ body: (Int, UnsafeRawBufferPointer) throws(E) -> Void
    ) throws(StreamFailure<E>) -> Int {
        let file: PosixFile
        do {
            file = try PosixFile.open(path, flags: O_RDONLY | O_NOFOLLOW)
            guard try file.status().isRegularFile else { throw VaultError.notARegularFile(path: path) }
        } catch {
            throw .stream(.unreadable(Self.reason(error)))
        }
        var buffer = [UInt8](repeating: 0, count: chunkByteCount + maximumElementByteCount)
        defer { Sodium.wipe(&buffer) }
        var filled = 0  // bytes of the buffer holding unread data, from `start`
        var start = 0
        var fileOffset = 0
        var atEnd = false
        var element = 0
        var opened = false

        // Reads more of the file after the unread bytes, moving them to the front first.
        func refill() throws(StreamFailure<E>) {
            if start > 0 {
                buffer.withUnsafeMutableBytes { raw in
                    raw.baseAddress!.copyMemory(from: raw.baseAddress! + start, byteCount: filled)
                    Sodium.wipe(UnsafeMutableRawBufferPointer(rebasing: raw[filled..<(start + filled)]))
                }
                start = 0
            }
            guard filled < buffer.count else { throw .stream(.elementTooLarge(element: element)) }
            let count: Int
            do {
                count = try buffer.withMutableRawBytes { (raw) throws(VaultError) -> Int in
                    try file.read(
                        into: UnsafeMutableRawBufferPointer(
                            rebasing: raw[filled..<min(raw.count, filled + chunkByteCount)]),
                        at: fileOffset)
                }
            } catch {
                throw .stream(.unreadable(Self.reason(error)))
            }
            if count == 0 { atEnd = true }
            fileOffset += count
            filled += count
        }

        while true {
            // One step of the grammar on the unread bytes; `truncated` reads more and tries again.
            let outcome = buffer.withUnsafeBytes { raw -> Result<(Step, Int), JSONScanner.Failure> in
                let unread = UnsafeRawBufferPointer(rebasing: raw[start..<(start + filled)])
                var scanner = JSONScanner(unread)
                return Result { () throws(JSONScanner.Failure) -> (Step, Int) in
                    if !opened {
                        try scanner.expect(UInt8(ascii: "["))
                        return (.opened, scanner.offset)
                    }
                    if element == 0, try scanner.consume(UInt8(ascii: "]")) { return (.closed, scanner.offset) }
                    _ = try scanner.peek()
                    let begin = scanner.offset
                    try scanner.skipValue()
                    let end = scanner.offset
                    // What follows decides: another element, or the end of the array.
                    if try scanner.consume(UInt8(ascii: ",")) {
                        return (.element(begin..<end), scanner.offset)
                    }
                    try scanner.expect(UInt8(ascii: "]"))
                    return (.element(begin..<end), -scanner.offset)
                }
            }
            switch outcome {
            case .failure(.truncated):
                if atEnd { throw .stream(.malformed(element: element)) }
                try refill()
            case .failure(.malformed):
                throw .stream(.malformed(element: element))
            case .success((.opened, let consumed)):
                opened = true
                start += consumed
                filled -= consumed
            case .success((.closed, let consumed)):
                start += consumed
                filled -= consumed
                return try finish(element)
            case .success((.element(let range), let signedConsumed)):
                let bounds = (start + range.lowerBound)..<(start + range.upperBound)
                let result: Result<Void, E> = buffer.withUnsafeBytes { raw in
                    Result { () throws(E) in try body(element, UnsafeRawBufferPointer(rebasing: raw[bounds])) }
                }
                if case .failure(let error) = result { throw .element(error) }
                element += 1
                let consumed = abs(signedConsumed)
                start += consumed
                filled -= consumed
                if signedConsumed < 0 { return try finish(element) }
            }
        }

        // After the closing bracket only whitespace may follow, to the end of the file.
        func finish(_ count: Int) throws(StreamFailure<E>) -> Int {
            while true {
                let rest = buffer[start..<(start + filled)]
                guard rest.allSatisfy({ [0x20, 0x09, 0x0A, 0x0D].contains($0) }) else {
                    throw .stream(.malformed(element: count))
                }
                start += filled
                filled = 0
                if atEnd { return count }
                try refill()
            }
        }
    }

    /// One step of the array's grammar.
    private enum Step {
        case opened
        case element(Range<Int>)
        case closed
    }

    /// What `forEachElement` throws: the stream's failure, or the element callback's.
    package enum StreamFailure<E: Error>: Error {
        case stream(Failure)
        case element(E)
    }

    static func reason(_ error: any Error) -> String {
        switch error {
        case VaultError.io(_, _, let code): Errno.describe(code)
        case VaultError.vaultNotFound: "no such file"
        case VaultError.notARegularFile: "not a regular file"
        default: "\(error)"
        }
    }
}
