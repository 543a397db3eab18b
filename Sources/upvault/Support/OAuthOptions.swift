import ArgumentParser
import UPVault
import UPVaultOAuth

#if canImport(Glibc)
import Glibc
#endif

/// `--app` and `--user`, with the defaults a user expects: `$UPVAULT_APP`/`$UPVAULT_USER`, else the only
/// app (or the only grant of the app) in the vault.
struct GrantSelection: ParsableArguments {
    @Option(help: ArgumentHelp("The app (default: $UPVAULT_APP, else the only app in the vault).", valueName: "name"))
    var app: String?

    @Option(help: ArgumentHelp("The user's label (default: $UPVAULT_USER, else the app's only grant).", valueName: "label"))
    var user: String?

    func appName(in vault: any VaultStore, environment: [String: String]) throws -> String {
        try Self.appName(explicit: app, in: vault, environment: environment)
    }

    static func appName(explicit app: String?, in vault: any VaultStore, environment: [String: String]) throws -> String {
        try app ?? environment["UPVAULT_APP"].flatMap { $0.isEmpty ? nil : $0 } ?? vault.onlyApp()
    }

    /// The user label for an existing grant of `app`.
    func userLabel(app: String, in vault: any VaultStore, environment: [String: String]) throws -> String {
        try user ?? environment["UPVAULT_USER"].flatMap { $0.isEmpty ? nil : $0 } ?? vault.onlyUser(of: app)
    }

    /// What was named on the command line or in the environment; nil where the vault must decide.
    func named(environment: [String: String]) -> (app: String?, user: String?) {
        (app ?? environment["UPVAULT_APP"].flatMap { $0.isEmpty ? nil : $0 },
         user ?? environment["UPVAULT_USER"].flatMap { $0.isEmpty ? nil : $0 })
    }
}

/// Runs `body` with an OAuth client on the opened vault, and closes the HTTP client afterwards.
func withOAuthClient<R>(
    _ vault: any VaultStore, connectionsPerHost: Int = 16, _ body: (OAuthClient) async throws -> R
) async throws -> R {
    let client = OAuthClient(vault: vault, connectionsPerHost: connectionsPerHost)
    do {
        let result = try await body(client)
        await client.shutdown()
        return result
    } catch {
        await client.shutdown()
        throw error
    }
}

/// A duration such as `300`, `90s`, `5m`, `8h`, `14d`.
struct DurationArgument: ExpressibleByArgument {
    var seconds: Int64

    init?(argument: String) {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        var text = Substring(argument)
        var multiplier: Int64 = 1
        if let last = text.last, let unit = units[last] {
            multiplier = unit
            text = text.dropLast()
        }
        guard let value = Int64(text), value >= 0, value <= 3650 * 86_400 / multiplier else { return nil }
        seconds = value * multiplier
    }

    var duration: Duration { .seconds(seconds) }
}

enum Clock {
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
}

extension Clock {
    /// `7h59m`, `12m30s`, `45s` until `deadline`.
    static func remaining(_ deadline: Int64) -> String {
        let seconds = max(0, deadline - now())
        let (hours, minutes, rest) = (seconds / 3600, seconds % 3600 / 60, seconds % 60)
        if hours > 0 { return "\(hours)h\(minutes)m" }
        if minutes > 0 { return "\(minutes)m\(rest)s" }
        return "\(rest)s"
    }
}

enum LineInput {
    /// One line from stdin (at most 8 KiB), without its line ending; nil at end of input.
    static func readLine(prompt: String?) -> String? {
        if let prompt, Terminal.standardInputIsTerminal { Terminal.message(prompt) }
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while bytes.count <= 8192 {
            let count = read(0, &byte, 1)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if byte == UInt8(ascii: "\n") { break }
            bytes.append(byte)
        }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}

