import Foundation
import InMemoryLogging
import Logging
import Testing
import UPVault
import UPVaultTesting

@testable import UPVaultOAuth

/// Everything the flows log at trace level, and not one secret in it: no token, no code, no client
/// secret, no passphrase, whatever the level.
@Suite struct LogCaptureTests {
    static let secrets = [
        "secret-1", "old-access", "old-refresh", "new-access", "new-refresh", "the-code-abc", testPassphrase,
    ]

    func logger(_ handler: InMemoryLogHandler) -> Logger {
        var logger = Logger(label: "upvault-test") { _ in handler }
        logger.logLevel = .trace
        return logger
    }

    func assertNoSecret(in handler: InMemoryLogHandler, sourceLocation: SourceLocation = #_sourceLocation) {
        let text = handler.entries.map { entry in
            "\(entry.level) \(entry.message) \(entry.metadata) \(entry.error.map { "\($0)" } ?? "")"
        }.joined(separator: "\n")
        #expect(
            !handler.entries.isEmpty, "nothing was logged: the test would prove nothing", sourceLocation: sourceLocation
        )
        for secret in Self.secrets {
            #expect(!text.contains(secret), "the log holds '\(secret)':\n\(text)", sourceLocation: sourceLocation)
        }
    }

    @Test func loginRefreshAndBulkRefreshLogNoSecret() async throws {
        let fixture = try Fixture()
        try fixture.seed(grant: nil)
        let handler = InMemoryLogHandler()
        let transport = StubTransport { _ throws(OAuthError) in json(200, tokenJSON) }
        let now = fixture.now
        let client = OAuthClient(vault: fixture.vault, transport: transport, logger: logger(handler), now: { now })
        let request = try client.authorize(app: "up")
        _ = try await client.completeAuthorization(
            request, redirectURL: "https://localhost/callback?code=the-code-abc&state=\(request.state)", user: "alice")
        try fixture.vault.put(
            Grant(
                app: "up", user: "bob", accessToken: "old-access", refreshToken: "old-refresh", issuedAt: now - 1000,
                expiresAt: now - 10))
        _ = try await client.accessToken(app: "up", user: "bob")
        _ = try await client.bulkRefresh(BulkRefreshOptions(app: "up"))
        assertNoSecret(in: handler)
    }

    @Test func refusedRefreshesAndRotationLogNoSecret() async throws {
        let fixture = try Fixture()
        try fixture.seed(grant: .some(fixture.now - 10))
        let handler = InMemoryLogHandler()
        let transport = StubTransport { _ throws(OAuthError) in
            json(400, #"{"error": "invalid_grant", "error_description": "old-refresh is spent"}"#)
        }
        let now = fixture.now
        let client = OAuthClient(vault: fixture.vault, transport: transport, logger: logger(handler), now: { now })
        await #expect(throws: OAuthError.self) { try await client.accessToken(app: "up", user: "alice") }
        try client.rotateSecret(app: "up", newSecret: "secret-2", previousValidUntil: now + 10)
        assertNoSecret(in: handler)
    }
}
