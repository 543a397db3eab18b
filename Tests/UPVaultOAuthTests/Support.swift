import Foundation
import Synchronization
import Testing
import UPVault
import UPVaultTesting

@testable import UPVaultOAuth

/// A scripted provider: each request is recorded and answered by `respond`.
final class StubTransport: HTTPTransport {
    struct Recorded: Sendable {
        var method: String
        var url: String
        var headers: [(String, String)]
        var form: [String: String]
    }

    private let log = Mutex<[Recorded]>([])
    private let respond: @Sendable (Recorded) async throws(OAuthError) -> HTTPResult

    init(_ respond: @escaping @Sendable (Recorded) async throws(OAuthError) -> HTTPResult) {
        self.respond = respond
    }

    var requests: [Recorded] { log.withLock { $0 } }

    func send(_ exchange: HTTPExchange) async throws(OAuthError) -> HTTPResult {
        let body = exchange.body.map { String(decoding: $0, as: UTF8.self) } ?? ""
        var form: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
            if parts.count == 2 { form[parts[0]] = parts[1] }
        }
        let recorded = Recorded(method: exchange.method, url: exchange.url, headers: exchange.headers, form: form)
        log.withLock { $0.append(recorded) }
        return try await respond(recorded)
    }

    func shutdown() async {}
}

func json(_ status: Int, _ text: String, headers: [(String, String)] = []) -> HTTPResult {
    HTTPResult(status: status, headers: headers, body: Array(text.utf8))
}

let tokenJSON =
    #"{"access_token": "new-access", "token_type": "Bearer", "expires_in": 31536000, "refresh_token": "new-refresh"}"#

/// A vault at the cheapest Argon2id cost in a temporary directory, and a clock the test sets.
final class Fixture: @unchecked Sendable {
    private let vaultFixture: VaultFixture
    var vault: Vault { vaultFixture.vault }
    var directory: String { vaultFixture.directory.path }
    var now: Int64 = 1_700_000_000

    init() throws {
        vaultFixture = try VaultFixture(prefix: "upvault-oauth")
    }

    func client(_ transport: StubTransport) -> OAuthClient {
        let now = self.now
        return OAuthClient(vault: vault, transport: transport, logger: Vault.silentLogger, now: { now })
    }

    /// App `up` (jawbone-style, endpoints on loopback) and, optionally, grant `up/alice`.
    @discardableResult
    func seed(
        secrets: [App.ClientSecret]? = nil, grant expiresAt: Int64?? = .some(nil), pkce: Bool = false
    ) throws -> App {
        let app = App(
            name: "up", provider: "jawbone", clientID: "client-1",
            clientSecrets: secrets ?? [App.ClientSecret(value: "secret-1", addedAt: now - 100)],
            redirectURI: "https://localhost/callback", scopes: ["basic_read"],
            endpoints: ProviderPreset.jawbone.endpoints!, supportsPKCE: pkce)
        try vault.put(app)
        if case .some(let expiry) = expiresAt {
            try vault.put(
                Grant(
                    app: "up", user: "alice", accessToken: "old-access", refreshToken: "old-refresh",
                    issuedAt: now - 1000,
                    expiresAt: expiry))
        }
        return app
    }

    func grant() throws -> Grant? { try vault.entry(Grant.self, named: "up/alice") }
}
