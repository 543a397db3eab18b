internal import CSodium

/// ISO/IEC 7816-4 padding through `sodium_pad` / `sodium_unpad`: a 0x80 byte then zeros up to the next
/// multiple of the block size (always at least one byte of padding).
enum Padding {
    /// The padded length of `length` bytes.
    static func paddedLength(_ length: Int, blockSize: Int) -> Int {
        (length / blockSize + 1) * blockSize
    }

    /// Pads in place: `buffer` holds `length` bytes of data and has room for the padded length.
    static func pad(_ buffer: UnsafeMutableRawBufferPointer, length: Int, blockSize: Int) -> Int {
        var padded = 0
        let status = sodium_pad(
            &padded, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), length, blockSize, buffer.count)
        precondition(status == 0, "sodium_pad failed")
        return padded
    }

    /// The unpadded length, or nil if the padding is malformed: the last `blockSize` bytes must hold a
    /// 0x80 byte followed only by zeros (what `sodium_unpad` accepts). Only authenticated plaintext is
    /// ever unpadded, so unlike `sodium_unpad` this need not take constant time: it stops at the marker.
    static func unpaddedLength(_ buffer: UnsafeRawBufferPointer, blockSize: Int) -> Int? {
        guard buffer.count > 0, buffer.count % blockSize == 0 else { return nil }
        var index = buffer.count - 1
        let limit = buffer.count - blockSize
        while index > limit && buffer[index] == 0 { index -= 1 }
        return buffer[index] == 0x80 ? index : nil
    }
}
