/// Argon2id cost parameters of a passphrase key slot, as stored in the file.
public struct KDFParameters: Hashable, Sendable, CustomStringConvertible {
    /// Argon2id passes (`crypto_pwhash` opslimit).
    public var opsLimit: UInt32
    /// Argon2id memory in bytes (`crypto_pwhash` memlimit).
    public var memLimit: UInt64

    public init(opsLimit: UInt32, memLimit: UInt64) {
        self.opsLimit = opsLimit
        self.memLimit = memLimit
    }

    /// libsodium's INTERACTIVE: 2 passes, 64 MiB.
    public static let interactive = KDFParameters(opsLimit: 2, memLimit: 64 << 20)
    /// libsodium's MODERATE, the default: 3 passes, 256 MiB (about a second here).
    public static let moderate = KDFParameters(opsLimit: 3, memLimit: 256 << 20)
    /// libsodium's SENSITIVE: 4 passes, 1 GiB.
    public static let sensitive = KDFParameters(opsLimit: 4, memLimit: 1 << 30)

    public var description: String {
        "argon2id ops=\(opsLimit) mem=\(memLimit >> 20) MiB"
    }
}

/// The bounds every key slot's parameters are checked against before any Argon2id run, so a hostile
/// file cannot make the reader allocate gigabytes or spin for hours.
public struct KDFLimits: Hashable, Sendable {
    public var opsLimit: ClosedRange<UInt32>
    public var memLimit: ClosedRange<UInt64>

    public init(opsLimit: ClosedRange<UInt32>, memLimit: ClosedRange<UInt64>) {
        self.opsLimit = opsLimit
        self.memLimit = memLimit
    }

    /// ops 1...10, memory 8 MiB...1 GiB.
    public static let `default` = KDFLimits(opsLimit: 1...10, memLimit: (8 << 20)...(1 << 30))

    /// Whether `parameters` lie within these bounds.
    public func admit(_ parameters: KDFParameters) -> Bool {
        opsLimit.contains(parameters.opsLimit) && memLimit.contains(parameters.memLimit)
    }
}

extension KDFParameters {
    /// `interactive`, `moderate`, `sensitive`, or `OPS:MIB` within `limits`; nil for anything else.
    public init?(parsing text: String, within limits: KDFLimits = .default) {
        switch text {
        case "interactive": self = .interactive
        case "moderate": self = .moderate
        case "sensitive": self = .sensitive
        default:
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
                let ops = UInt32(parts[0]), let mebibytes = UInt64(parts[1]), mebibytes <= 1 << 20
            else { return nil }
            let candidate = KDFParameters(opsLimit: ops, memLimit: mebibytes << 20)
            guard limits.admit(candidate) else { return nil }
            self = candidate
        }
    }
}
