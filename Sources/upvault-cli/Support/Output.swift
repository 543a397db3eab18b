import FoundationEssentials
import UPVault

/// `--json` output: one JSON document on stdout, keys sorted and in snake_case.
enum JSONOutput {
    static func print(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let data = try encoder.encode(value)
        Terminal.out(String(decoding: data, as: UTF8.self) + "\n")
    }
}

/// Plain aligned columns.
enum Table {
    static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}

/// Times as the CLI prints them (the format itself is `UnixTime`'s).
enum TimeText {
    static func now() -> Int64 { UnixTime.now().seconds }

    /// `2026-11-21T06:30:00Z`.
    static func iso8601(_ seconds: Int64) -> String { UnixTime(seconds).iso8601 }

    /// `7h59m`, `12m30s`, `45s` until `deadline`.
    static func remaining(_ deadline: Int64) -> String {
        let seconds = max(0, deadline - now())
        let (hours, minutes, rest) = (seconds / 3600, seconds % 3600 / 60, seconds % 60)
        if hours > 0 { return "\(hours)h\(minutes)m" }
        if minutes > 0 { return "\(minutes)m\(rest)s" }
        return "\(rest)s"
    }

    /// `12.34`.
    static func twoDecimals(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
