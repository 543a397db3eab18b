import FoundationEssentials
import UPVault

/// `application/x-www-form-urlencoded` (and query strings built the same way): every byte outside
/// RFC 3986's unreserved set is percent-encoded, so `+`, `&` and `=` in values survive the trip.
enum FormEncoding {
    static func encode(_ fields: [(String, String)]) -> String {
        String(decoding: encodedBytes(fields), as: UTF8.self)
    }

    /// The form as bytes, built in one buffer: every token request of a bulk run comes through here.
    static func encodedBytes(_ fields: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(fields.reduce(0) { $0 + $1.0.utf8.count + $1.1.utf8.count + 2 } + 16)
        for (index, (name, value)) in fields.enumerated() {
            if index > 0 { out.append(UInt8(ascii: "&")) }
            append(name, to: &out)
            out.append(UInt8(ascii: "="))
            append(value, to: &out)
        }
        return out
    }

    static func escape(_ text: String) -> String {
        if text.utf8.allSatisfy(isUnreserved) { return text }
        var out: [UInt8] = []
        append(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func append(_ text: String, to out: inout [UInt8]) {
        for byte in text.utf8 {
            if isUnreserved(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(Hex.uppercaseDigits[Int(byte >> 4)])
                out.append(Hex.uppercaseDigits[Int(byte & 0xF)])
            }
        }
    }

    /// RFC 3986's unreserved set: A-Z, a-z, 0-9, `-`, `.`, `_`, `~`.
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default: false
        }
    }
}

/// A URL taken apart by Foundation's parser, with the parts the flows need checked to be present.
struct ParsedURL {
    let components: URLComponents
    let scheme: String
    let host: String

    init(_ text: String) throws(OAuthError) {
        guard text.utf8.count <= 8192 else { throw .malformedURL("longer than 8 KiB") }
        guard let components = URLComponents(string: text) else { throw .malformedURL("does not parse") }
        guard let scheme = components.scheme?.lowercased(), !scheme.isEmpty else { throw .malformedURL("no scheme") }
        guard let host = components.host, !host.isEmpty else { throw .malformedURL("no host") }
        self.components = components
        self.scheme = scheme
        self.host = host
    }

    /// The first value of a query parameter, decoded.
    func query(_ name: String) -> String? {
        components.queryItems?.first { $0.name == name }?.value
    }

    /// The port, or the scheme's default (443 for https, 80 for http).
    var effectivePort: Int? {
        components.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : nil)
    }

    /// The path as sent, with an empty path read as `/`.
    var path: String {
        let path = components.percentEncodedPath
        return path.isEmpty ? "/" : path
    }

    /// Whether this URL (a redirect received) is the redirect URI `expected` itself: the same scheme,
    /// host, port and path, compared exactly (RFC 9700 §4.1.3), with no user information. For a
    /// loopback redirect URI registered without a port, any port is accepted (RFC 8252 §7.3).
    func isRedirect(to expected: ParsedURL) -> Bool {
        guard components.user == nil, components.password == nil else { return false }
        guard scheme == expected.scheme, host.lowercased() == expected.host.lowercased(), path == expected.path else {
            return false
        }
        if expected.components.port == nil && scheme == "http" && EndpointPolicy.isLoopback(host: host) { return true }
        return effectivePort == expected.effectivePort
    }

    /// The URL without query and fragment, for comparing against a redirect URI.
    var withoutQuery: String {
        var copy = components
        copy.query = nil
        copy.fragment = nil
        return copy.string ?? ""
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs, CRs and LFs.
    var trimmedWhitespace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
