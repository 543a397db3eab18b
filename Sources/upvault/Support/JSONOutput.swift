import FoundationEssentials

/// `--json` output: one JSON document on stdout, keys sorted.
enum JSONOutput {
    static func print(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        Terminal.out(String(decoding: data, as: UTF8.self) + "\n")
    }
}
