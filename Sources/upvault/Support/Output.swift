import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

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

/// Times as the CLI reads and prints them: Unix seconds, UTC.
enum TimeText {
    static func now() -> Int64 { Int64(time(nil)) }

    /// `2026-11-21T06:30:00Z`.
    static func iso8601(_ seconds: Int64) -> String {
        var value = time_t(seconds)
        var parts = tm()
        gmtime_r(&value, &parts)
        func pad(_ number: Int32, _ width: Int = 2) -> String {
            let text = String(number)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))T"
            + "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec))Z"
    }

    /// `2014-04-25`, `2014-04-25T12:00:00Z`, or Unix seconds.
    static func parse(_ text: String) -> Int64? {
        if let value = Int64(text) { return value }
        let parts = text.split(whereSeparator: { "-T:Z".contains($0) }).compactMap { Int32($0) }
        guard parts.count == 3 || parts.count == 6, parts[0] >= 1970 else { return nil }
        var fields = tm()
        fields.tm_year = parts[0] - 1900
        fields.tm_mon = parts[1] - 1
        fields.tm_mday = parts[2]
        if parts.count == 6 {
            fields.tm_hour = parts[3]
            fields.tm_min = parts[4]
            fields.tm_sec = parts[5]
        }
        guard (0...11).contains(fields.tm_mon), (1...31).contains(fields.tm_mday) else { return nil }
        return Int64(timegm(&fields))
    }

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
