public import UPVault

/// A rate of requests: `25/s`, `1500/m`, `0.5/s`, or a bare number per second.
public struct RequestRate: Sendable, Equatable, CustomStringConvertible {
    public let perSecond: Double

    /// Between one request an hour and 100,000 a second.
    public static let range: ClosedRange<Double> = (1.0 / 3600)...100_000

    public init(perSecond: Double) throws(OAuthError) {
        try Self.check(perSecond)
        self.perSecond = perSecond
    }

    public init(parsing text: String) throws(OAuthError) {
        var number = Substring(text)
        var divisor = 1.0
        if let slash = text.firstIndex(of: "/") {
            number = text[..<slash]
            switch text[text.index(after: slash)...] {
            case "s": divisor = 1
            case "m": divisor = 60
            case "h": divisor = 3600
            default: throw .invalidArgument("a rate is N/s, N/m or N/h, got '\(OAuthError.sanitized(text))'")
            }
        }
        guard let value = Double(number), value.isFinite else {
            throw .invalidArgument("a rate is N/s, N/m or N/h, got '\(OAuthError.sanitized(text))'")
        }
        try self.init(perSecond: value / divisor)
    }

    static func check(_ perSecond: Double) throws(OAuthError) {
        guard perSecond.isFinite, range.contains(perSecond) else {
            throw .invalidArgument("a rate must be between one request an hour and 100000/s")
        }
    }

    public var description: String {
        perSecond >= 1 || perSecond == perSecond.rounded()
            ? "\(Self.format(perSecond))/s" : "\(Self.format(perSecond * 60))/m"
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int64(value)) : String((value * 100).rounded() / 100)
    }
}
