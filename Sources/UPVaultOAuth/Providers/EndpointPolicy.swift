import Synchronization
public import UPVault

/// Which URLs may carry codes, tokens and secrets: HTTPS, or plain HTTP to a loopback address.
public enum EndpointPolicy {
    /// Throws `insecureEndpoint` for anything but `https://host...` or `http://` to 127.0.0.0/8, ::1
    /// or localhost; `malformedURL` when there is no host.
    public static func check(_ url: String) throws(OAuthError) {
        if remembered.withLock({ $0.contains(url) }) { return }
        let parsed = try ParsedURL(url)
        switch parsed.scheme {
        case "https": break
        case "http" where isLoopback(host: parsed.host): break
        // Without query and fragment: a redirect URL carries a code that must not reach an error message.
        default: throw .insecureEndpoint(parsed.withoutQuery)
        }
        // A URL with a query may carry a code (a redirect received): not kept.
        guard !url.utf8.contains(UInt8(ascii: "?")), !url.utf8.contains(UInt8(ascii: "#")) else { return }
        remembered.withLock { passed in
            if passed.count >= 64 { passed.removeAll() }
            passed.insert(url)
        }
    }

    /// Endpoint URLs that passed (the verdict depends on the text alone): a bulk run checks its token
    /// endpoint once, not by parsing it again for every request. Only URLs without a query or fragment;
    /// bounded, emptied when full.
    static let remembered = Mutex<Set<String>>([])

    public static func isLoopback(host: String) -> Bool {
        let host = host.lowercased()
        if host == "localhost" || host == "[::1]" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        return parts.allSatisfy { part in UInt8(part) != nil }
    }

    /// Checks every endpoint and the redirect URI of an app.
    public static func check(_ app: App) throws(OAuthError) {
        for endpoint in app.endpoints.all { try check(endpoint) }
        if let issuer = app.endpoints.issuer { try check(issuer) }
        try check(app.redirectURI)
    }
}
