/// Which redirect URIs the sandbox accepts for its client: the registered ones, compared as whole
/// strings (RFC 6749 §3.1.2.3, RFC 9700 §2.1: no prefix or pattern matching, so `.../cbEVIL`, another
/// host that starts the same, userinfo tricks and other ports are all refused), with the one exception
/// of RFC 8252 §7.3: a registered `http` redirect on a loopback IP literal (`127.0.0.1`, `[::1]`) with
/// no port matches the same URI with any port, since a native app's listener picks its port at run time.
public enum RedirectMatching {
    public static func isRegistered(_ requested: String, in registered: [String]) -> Bool {
        registered.contains { matches(requested, registered: $0) }
    }

    public static func matches(_ requested: String, registered: String) -> Bool {
        if requested == registered { return !requested.contains("#") }
        guard let wanted = LoopbackRedirect(requested), let allowed = LoopbackRedirect(registered) else {
            return false
        }
        return allowed.port == nil && wanted.host == allowed.host && wanted.rest == allowed.rest
    }

    /// `http://HOST[:PORT]REST` with HOST a loopback IP literal; nil for anything else.
    struct LoopbackRedirect {
        var host: Substring
        var port: UInt16?
        var rest: Substring

        init?(_ text: String) {
            guard text.hasPrefix("http://"), !text.contains("#") else { return nil }
            let afterScheme = text.dropFirst("http://".count)
            let authorityEnd = afterScheme.firstIndex { $0 == "/" || $0 == "?" } ?? afterScheme.endIndex
            let authority = afterScheme[..<authorityEnd]
            rest = afterScheme[authorityEnd...]
            guard !rest.isEmpty, rest.first == "/" else { return nil }
            let hostEnd: Substring.Index
            if authority.hasPrefix("[") {
                guard let close = authority.firstIndex(of: "]") else { return nil }
                hostEnd = authority.index(after: close)
            } else {
                hostEnd = authority.firstIndex(of: ":") ?? authority.endIndex
            }
            host = authority[..<hostEnd]
            guard host == "127.0.0.1" || host == "[::1]" else { return nil }
            let portText = authority[hostEnd...]
            if portText.isEmpty {
                port = nil
            } else {
                let digits = portText.dropFirst()
                guard portText.first == ":", !digits.isEmpty, digits.count <= 5, digits.allSatisfy(\.isASCII),
                    digits.allSatisfy(\.isNumber), let value = UInt16(digits), value > 0
                else { return nil }
                port = value
            }
        }
    }
}
