import Testing

@testable import UPVault

@Suite struct HexTests {
    @Test func bytesAreWrittenAsTwoLowerCaseDigitsEach() {
        #expect(Hex.lowercase([0x00, 0x0F, 0xA5, 0xFF]) == "000fa5ff")
        #expect(Hex.lowercase([UInt8]()) == "")
        #expect(Hex.lowercase(0...255).count == 512)
    }

    @Test func everyByteReadsBackAsADigitOrNothing() {
        for byte in UInt8(0)...255 {
            let expected =
                "0123456789abcdef".utf8.firstIndex(of: byte).map {
                    UInt8("0123456789abcdef".utf8.distance(from: "0123456789abcdef".utf8.startIndex, to: $0))
                }
                ?? "0123456789ABCDEF".utf8.firstIndex(of: byte).map {
                    UInt8("0123456789ABCDEF".utf8.distance(from: "0123456789ABCDEF".utf8.startIndex, to: $0))
                }
            #expect(Hex.value(of: byte) == expected, "\(byte)")
        }
        for value in 0..<16 {
            #expect(Hex.value(of: Hex.lowercaseDigits[value]) == UInt8(value))
            #expect(Hex.value(of: Hex.uppercaseDigits[value]) == UInt8(value))
        }
    }
}
