/// A grant's JSON without Foundation's encoder and decoder, which cost more than the rest of a bulk
/// refresh's per-grant work. The encoder writes exactly the bytes `JSONEncoder` with sorted keys writes
/// (the stored form does not change); the decoder reads the flat object those bytes are and gives up
/// (nil) on anything else, which then goes to `JSONDecoder`, so what is accepted is unchanged.
extension Grant {
    /// The JSON object, keys sorted, absent optionals left out, strings escaped as `JSONEncoder` does.
    func encodedJSON() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + accessToken.utf8.count + (refreshToken?.utf8.count ?? 0))
        var first = true
        func key(_ name: StaticString) {
            out.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
            first = false
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        }
        func string(_ name: StaticString, _ value: String?) {
            guard let value else { return }
            key(name)
            JSONText.appendString(value, to: &out)
        }
        func integer(_ name: StaticString, _ value: Int64?) {
            guard let value else { return }
            key(name)
            JSONText.appendInteger(value, to: &out)
        }
        string("access_token", accessToken)
        string("app", app)
        integer("expires_at", expiresAt)
        string("grant_type", grantType?.rawValue)
        integer("issued_at", issuedAt)
        integer("last_refresh_at", lastRefreshAt)
        string("provider_user_id", providerUserID)
        integer("refresh_started_at", refreshStartedAt)
        string("refresh_token", refreshToken)
        string("revocation_endpoint", revocationEndpoint)
        string("revocation_error", revocationError)
        integer("revocation_started_at", revocationStartedAt)
        integer("revocation_status", revocationStatus)
        integer("revoked_at", revokedAt)
        string("scope", scope)
        string("secret_fingerprint", secretFingerprint)
        string("status", status.rawValue)
        string("status_reason", statusReason)
        string("token_type", tokenType)
        string("user", user)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The grant in `bytes` when they are one object of the grant's own fields with the expected types
    /// (each at most once) and nothing after it; nil otherwise.
    static func decodeJSON(_ bytes: UnsafeRawBufferPointer) -> Grant? {
        var scanner = JSONScanner(bytes)
        var strings: [String: String] = [:]
        var integers: [String: Int64] = [:]
        var valid = true
        do {
            try scanner.readObject { key, value in
                switch (key, value) {
                case ("app", .string(let text)), ("user", .string(let text)), ("access_token", .string(let text)),
                    ("token_type", .string(let text)), ("status", .string(let text)),
                    ("provider_user_id", .string(let text)), ("refresh_token", .string(let text)),
                    ("scope", .string(let text)), ("secret_fingerprint", .string(let text)),
                    ("status_reason", .string(let text)), ("grant_type", .string(let text)),
                    ("revocation_endpoint", .string(let text)), ("revocation_error", .string(let text)):
                    if strings.updateValue(text, forKey: key) != nil || integers[key] != nil { valid = false }
                case ("issued_at", .integer(let number)), ("expires_at", .integer(let number)),
                    ("last_refresh_at", .integer(let number)), ("refresh_started_at", .integer(let number)),
                    ("revocation_started_at", .integer(let number)), ("revocation_status", .integer(let number)),
                    ("revoked_at", .integer(let number)):
                    if integers.updateValue(number, forKey: key) != nil { valid = false }
                default:
                    valid = false  // a null, another type, an unknown or nested field: JSONDecoder decides
                }
            }
        } catch {
            return nil
        }
        guard valid, scanner.peek() == nil, let app = strings["app"], let user = strings["user"],
            let accessToken = strings["access_token"], let tokenType = strings["token_type"],
            let status = strings["status"].flatMap(Status.init(rawValue:)), let issuedAt = integers["issued_at"]
        else { return nil }
        var grantType: GrantType?
        if let text = strings["grant_type"] {
            guard let known = GrantType(rawValue: text) else { return nil }
            grantType = known
        }
        var grant = Grant(
            app: app, user: user, providerUserID: strings["provider_user_id"], accessToken: accessToken,
            refreshToken: strings["refresh_token"], tokenType: tokenType, scope: strings["scope"], issuedAt: issuedAt,
            expiresAt: integers["expires_at"], lastRefreshAt: integers["last_refresh_at"],
            secretFingerprint: strings["secret_fingerprint"], status: status, statusReason: strings["status_reason"])
        grant.refreshStartedAt = integers["refresh_started_at"]
        grant.grantType = grantType
        grant.revocationStartedAt = integers["revocation_started_at"]
        grant.revokedAt = integers["revoked_at"]
        grant.revocationEndpoint = strings["revocation_endpoint"]
        grant.revocationStatus = integers["revocation_status"]
        grant.revocationError = strings["revocation_error"]
        return grant
    }
}

/// JSON text as `JSONEncoder` writes it.
package enum JSONText {
    /// Appends the decimal digits of `value` (a `-` first when negative).
    package static func appendInteger(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var index = buffer.count
            repeat {
                index -= 1
                buffer[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            out.append(contentsOf: buffer[index...])
        }
    }

    /// Appends `value` as a JSON string: `"` and `\` escaped, `/` as `\/`, the control characters as
    /// `\b \f \n \r \t` or `\u00XX`, everything else as its UTF-8.
    package static func appendString(_ value: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings (tokens, names) need no escape at all: one copy.
        let plain = value.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0x2F }) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if plain == true {
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case UInt8(ascii: "/"): out.append(contentsOf: [0x5C, 0x2F])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x00..<0x20:
                let hex = Hex.lowercaseDigits
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
