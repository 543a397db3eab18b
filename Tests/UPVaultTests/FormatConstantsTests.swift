import Foundation
import Testing
import UPVaultTesting

@testable import UPVault

/// The numbers Vault/FORMAT.md states, checked against the code that writes them.
@Suite struct FormatConstantsTests {
    @Test func layoutNumbersMatchTheSpecification() {
        #expect(UPV1.fixedHeaderByteCount == 48 && UPV1.slotByteCount == 104 && UPV1.headerMACByteCount == 32)
        #expect(UPV1.headerByteCount(slotCount: 1) == 184)
        #expect(UPV1.recordHeaderByteCount == 9 && UPV1.recordPrefixByteCount == 33 && UPV1.sealByteCount == 49)
        #expect(UPV1.minimumCiphertextByteCount == 80 && UPV1.maximumCiphertextByteCount == 1_049_168)
        #expect(UPV1.recordFrameType == 0x52 && UPV1.sealFrameType == 0x45)
        #expect((UPV1.recordFrameType ^ UPV1.sealFrameType).nonzeroBitCount >= 2)
        #expect(Array("UPVault1".utf8) == KeyDerivation.context)
    }

    @Test func theEmptyVectorHasExactlyTheDocumentedShape() throws {
        let bytes = fileBytes(GoldenVectorTests.directory.appendingPathComponent("empty.upv").path)
        #expect(bytes.count == 184 + 49)
        #expect(Array(bytes[0..<4]) == Array("UPV1".utf8))
        #expect(bytes[4] == 1 && bytes[5] == 0 && bytes[6] == 184 && bytes[7] == 0)
        #expect(bytes[184] == 0x45 && bytes[185..<193].allSatisfy { $0 == 0xFF })
        #expect(bytes[193..<201].allSatisfy { $0 == 0 }, "record count 0")
    }
}
