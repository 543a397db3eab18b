import ArgumentParser
import FoundationEssentials
import Hummingbird
import Logging
import NIOCore
import Synchronization
import UPVault
import UPVaultSandbox

#if canImport(Glibc)
import Glibc
#endif

@main
struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upvault-sandbox",
        abstract: "A local OAuth 2.0 provider that behaves like the Jawbone UP API did, with switches and faults.",
        subcommands: [Serve.self, Admin.self],
        defaultSubcommand: Serve.self)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the provider (the default).",
        discussion: """
            Prints 'upvault-sandbox listening on http://HOST:PORT' once it accepts connections. \
            Endpoints: /.well-known/oauth-authorization-server (and openid-configuration), /auth/oauth2/auth, \
            /auth/oauth2/token, /auth/oauth2/device, /auth/oauth2/revoke, /nudge/api/v.1.1/users/@me, \
            users/@me/moves, users/@me/refreshToken; switches under /admin, for loopback callers that send \
            the admin token (written 0600 to --admin-token-file) in the X-Sandbox-Admin-Token header; \
            'upvault-sandbox admin' does that.
            """)

    @Option(help: "Address to listen on (loopback unless you mean it).")
    var host = "127.0.0.1"

    @Option(help: "Port (0 picks a free one).")
    var port = 0

    @Option(help: "The registered client's id.")
    var clientID = "sandbox-client"

    @Option(help: "Read the client secret from this file (default: a fresh random secret, see GET /admin/client).")
    var clientSecretFile: String?

    @Option(
        help: ArgumentHelp(
            "A registered redirect URI, matched exactly; on http://127.0.0.1 or http://[::1] any port (repeatable).",
            valueName: "uri"))
    var redirectURI: [String] = Provider.Client.defaultRedirectURIs

    @Option(
        help: ArgumentHelp(
            "Write the admin token here, 0600 (default: $XDG_RUNTIME_DIR/upvault-sandbox/admin-PORT.token, "
                + "else ~/.local/state/upvault-sandbox/admin-PORT.token).", valueName: "path"))
    var adminTokenFile: String?

    @Flag(help: "Issue a new refresh token on every refresh (the old one is consumed).")
    var rotateRefreshTokens = false

    @Flag(help: "Revoke a grant's tokens when one of its consumed refresh tokens is presented again.")
    var revokeFamilyOnReuse = false

    @Option(help: "Access token lifetime in seconds (Jawbone: one year).")
    var accessTokenLifetime: Int64 = 31_536_000

    @Flag(help: "Answer every authorization request with error=access_denied.")
    var deny = false

    @Flag(name: .customLong("errors-with-200"), help: "Send token endpoint errors with HTTP 200.")
    var errorsWith200 = false

    @Option(help: "Share of requests answered 503.") var serverErrorRate = 0.0
    @Option(help: "Share of connections dropped without an answer.") var dropRate = 0.0
    @Option(help: "Share of requests answered 429.") var rateLimitRate = 0.0
    @Option(help: "Retry-After seconds sent with 429.") var retryAfter = 1
    @Option(help: "Added latency per request, in milliseconds.") var latencyMs = 0
    @Option(
        name: .customLong("error-200-rate"),
        help: "Share of token requests answered {\"error\":\"temporarily_unavailable\"} with 200.") var error200Rate =
        0.0

    @Option(help: "The public client's id (no secret; PKCE required).")
    var publicClientID = "sandbox-public"

    @Option(help: "The device login polling interval, in seconds (RFC 8628).")
    var deviceInterval: Int64 = 5

    @Option(help: "How long a device code lives, in seconds.")
    var deviceCodeLifetime: Int64 = 600

    @Option(help: "Token and revocation requests per second before answering 429 (0: no limit).")
    var rateLimit = 0

    @Option(help: "Seed this many users with grants at start.")
    var seed = 0

    @Option(help: "Write a kiefer config.json for the first seeded user here (mode 0600).")
    var writeKieferConfig: String?

    func run() async throws {
        let secret: String
        if let clientSecretFile {
            let bytes = try FileSystem.readFile(clientSecretFile, maximum: 4096)
            secret =
                String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            guard !secret.isEmpty else { throw ValidationError("\(clientSecretFile) is empty") }
        } else {
            secret = Provider.token()
        }
        let provider = Provider(
            client: .init(id: clientID, secrets: [.init(value: secret)], redirectURIs: redirectURI),
            publicClientID: publicClientID,
            settings: .init(
                rotateRefreshTokens: rotateRefreshTokens, accessTokenLifetime: accessTokenLifetime, deny: deny,
                errorsWith200: errorsWith200, revokeFamilyOnReuse: revokeFamilyOnReuse, deviceInterval: deviceInterval,
                deviceCodeLifetime: deviceCodeLifetime, rateLimit: rateLimit),
            faults: .init(
                serverErrorRate: serverErrorRate, dropRate: dropRate, rateLimitRate: rateLimitRate,
                retryAfter: retryAfter,
                latencyMilliseconds: latencyMs, error200Rate: error200Rate))
        let seeded = provider.seed(count: max(seed, writeKieferConfig == nil ? 0 : 1))
        let logger = Logger(label: "upvault-sandbox") { SandboxLogHandler(label: $0) }
        let configuration = ApplicationConfiguration(
            address: .hostname(host, port: port), serverName: "upvault-sandbox")
        let writeConfig = writeKieferConfig
        let redirect = redirectURI.first ?? ""
        let adminToken = AdminToken.generate()
        let tokenFile = adminTokenFile
        let environment = Vault.processEnvironment()
        let app = Application(
            router: buildRouter(provider: provider, adminToken: adminToken), server: .sandbox(provider),
            configuration: configuration,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                if let path = tokenFile ?? AdminToken.defaultPath(port: port, environment: environment) {
                    do {
                        try AdminToken.write(adminToken, to: path)
                    } catch {
                        writeLine("upvault-sandbox: cannot write the admin token to \(path): \(error)", to: 2)
                    }
                } else {
                    writeLine("upvault-sandbox: no place for the admin token (set --admin-token-file)", to: 2)
                }
                if let writeConfig, let first = seeded.first {
                    do {
                        let config = provider.kieferConfig(secret: secret, redirectURI: redirect, grant: first)
                        try FileSystem.writePrivateFile(Array(config.utf8), to: writeConfig)
                    } catch {
                        writeLine("upvault-sandbox: cannot write \(writeConfig): \(error)", to: 2)
                    }
                }
                writeLine("upvault-sandbox listening on http://\(host):\(port)", to: 1)
            },
            logger: logger)
        try await app.runService()
    }
}

/// One line, unbuffered, so a parent reading the pipe sees it at once.
func writeLine(_ text: String, to descriptor: Int32) {
    let line = Array((text + "\n").utf8)
    _ = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
}
