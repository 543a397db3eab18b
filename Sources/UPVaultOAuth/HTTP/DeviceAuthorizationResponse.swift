import FoundationEssentials
import UPVault

/// A device authorization endpoint's answer (RFC 8628 §3.2), checked before anything is shown to the
/// user: every URL is HTTPS (or loopback), every printed string is plain printable ASCII (no terminal
/// escapes), and the expiry and polling interval are plausible.
struct DeviceAuthorizationResponse: Sendable {
    var deviceCode: String
    var userCode: String
    var verificationURI: String
    var verificationURIComplete: String?
    var expiresIn: Int64
    var interval: Int64

    /// A day: a device code that lives longer is not what RFC 8628 describes.
    static let maximumExpiry: Int64 = 86_400
    /// Five minutes between polls at most, and never longer than the code lives.
    static let maximumInterval: Int64 = 300
    /// RFC 8628 §3.2: when the server names no interval.
    static let defaultInterval: Int64 = 5

    private struct Body: Decodable {
        var deviceCode: String?
        var userCode: String?
        var verificationURI: String?
        var verificationURL: String?
        var verificationURIComplete: String?
        var expiresIn: LenientInteger?
        var interval: LenientInteger?
        var error: String?
        var errorDescription: String?

        enum CodingKeys: String, CodingKey {
            case interval, error
            case deviceCode = "device_code"
            case userCode = "user_code"
            case verificationURI = "verification_uri"
            case verificationURL = "verification_url"  // what some providers (Google) send
            case verificationURIComplete = "verification_uri_complete"
            case expiresIn = "expires_in"
            case errorDescription = "error_description"
        }
    }

    static func parse(_ result: HTTPResult) throws(OAuthError) -> DeviceAuthorizationResponse {
        let body = try ProviderJSON.decode(Body.self, from: result)
        if let code = body.error {
            throw ProviderJSON.oauthError(
                code: code, description: body.errorDescription, status: result.status, result: result)
        }
        guard (200..<300).contains(result.status) else { throw ProviderJSON.statusError(result) }
        func fail(_ reason: String) -> OAuthError {
            .unexpectedResponse(httpStatus: result.status, reason: "device authorization: \(reason)")
        }
        guard let deviceCode = body.deviceCode else { throw fail("no device_code") }
        try TokenResponse.checkToken(deviceCode, field: "device_code", status: result.status)
        guard let userCode = body.userCode, !userCode.isEmpty, userCode.utf8.count <= 128,
            userCode.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F })
        else { throw fail("missing or malformed user_code") }
        guard let uri = body.verificationURI ?? body.verificationURL else { throw fail("no verification_uri") }
        try checkURL(uri, field: "verification_uri", fail: fail)
        if let complete = body.verificationURIComplete {
            try checkURL(complete, field: "verification_uri_complete", fail: fail)
        }
        guard let expiresIn = body.expiresIn?.value else { throw fail("no expires_in") }
        guard expiresIn > 0, expiresIn <= maximumExpiry else {
            throw fail("expires_in \(expiresIn) is out of range (1 to \(maximumExpiry) seconds)")
        }
        let interval = body.interval?.value ?? defaultInterval
        guard interval > 0, interval <= min(maximumInterval, expiresIn) else {
            throw fail("interval \(interval) is out of range (1 to \(min(maximumInterval, expiresIn)) seconds)")
        }
        return DeviceAuthorizationResponse(
            deviceCode: deviceCode, userCode: userCode, verificationURI: uri,
            verificationURIComplete:
                body.verificationURIComplete, expiresIn: expiresIn, interval: interval)
    }

    /// A URL the user is told to open: HTTPS (or loopback), printable ASCII only, bounded.
    private static func checkURL(
        _ url: String, field: String, fail: (String) -> OAuthError
    ) throws(OAuthError) {
        guard url.utf8.count <= 2048, url.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw fail("\(field) is not a plain URL")
        }
        do {
            try EndpointPolicy.check(url)
        } catch {
            throw fail("\(field) is not HTTPS")
        }
    }
}
