#if canImport(Glibc)
import Glibc
#endif

/// A point in time as the vault keeps it, Unix seconds (UTC), and as people read and type it:
/// `2026-11-21T06:30:00Z`. Encodes as that text.
public struct UnixTime: Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public var seconds: Int64

    public init(_ seconds: Int64) { self.seconds = seconds }

    public static func now() -> UnixTime { UnixTime(Int64(time(nil))) }

    /// `2014-04-25`, `2014-04-25T12:00:00Z`, or Unix seconds; nil for anything else.
    public init?(parsing text: String) {
        if let value = Int64(text) {
            seconds = value
            return
        }
        let parts = text.split(whereSeparator: { "-T:Z".contains($0) }).compactMap { Int32($0) }
        guard parts.count == 3 || parts.count == 6, (1970...9999).contains(parts[0]) else { return nil }
        var fields = tm()
        fields.tm_year = parts[0] - 1900
        fields.tm_mon = parts[1] - 1
        fields.tm_mday = parts[2]
        if parts.count == 6 {
            guard (0...23).contains(parts[3]), (0...59).contains(parts[4]), (0...60).contains(parts[5]) else {
                return nil
            }
            fields.tm_hour = parts[3]
            fields.tm_min = parts[4]
            fields.tm_sec = parts[5]
        }
        guard (0...11).contains(fields.tm_mon), (1...31).contains(fields.tm_mday) else { return nil }
        seconds = Int64(timegm(&fields))
    }

    /// `2026-11-21T06:30:00Z`.
    public var iso8601: String {
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

    public var description: String { iso8601 }

    public static func < (lhs: UnixTime, rhs: UnixTime) -> Bool { lhs.seconds < rhs.seconds }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(iso8601)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let time = UnixTime(parsing: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a time: \(text)")
        }
        self = time
    }
}

/// Durations as users type them: `300` (seconds), `90s`, `5m`, `8h`, `14d`, `2w`; at most ten years.
public enum DurationText {
    public static let maximumSeconds: Int64 = 3650 * 86_400

    /// The seconds `text` says, or nil.
    public static func seconds(parsing text: String) -> Int64? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        var digits = Substring(text)
        var multiplier: Int64 = 1
        if let last = digits.last, let unit = units[last] {
            multiplier = unit
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int64(digits),
            value <= maximumSeconds / multiplier
        else { return nil }
        return value * multiplier
    }
}
