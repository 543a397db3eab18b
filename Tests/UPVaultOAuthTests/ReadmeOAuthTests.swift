import Foundation
import Logging
import Testing
import UPVault
import UPVaultOAuth
import UPVaultSandbox
import UPVaultTesting

/// README's UPVaultOAuth snippet, as written there, against the sandbox over HTTP (in this process).
@Suite struct ReadmeOAuthTests {
    @Test func theOAuthSnippetWorksAgainstTheSandbox() async throws {
        try await InProcessSandbox.run { sandbox in try await Self.snippet(sandbox) }
    }

    static func snippet(_ sandbox: InProcessSandbox) async throws {
        let fixture = try Fixture()
        let secret = sandbox.clientSecret
        try fixture.vault.put(
            App(
                name: "up", provider: "jawbone", clientID: "sandbox-client",
                clientSecrets: [App.ClientSecret(value: secret, addedAt: 0)], redirectURI: "https://localhost/callback",
                scopes: ["basic_read"],
                endpoints: App.Endpoints(
                    authorize: sandbox.url + "/auth/oauth2/auth", token: sandbox.url + "/auth/oauth2/token",
                    apiBase: sandbox.url + "/nudge/api/v.1.1/")))
        let vault = fixture.vault
        let logger = Logger(label: "readme")
        // --- README ---
        let oauth = OAuthClient(vault: vault, logger: logger)  // the library never configures logging
        let login = try oauth.authorize(app: "up")  // login.url: open it in a browser
        let pasted = try await sandbox.redirect(for: login.url)  // (what the browser would show)
        let grant = try await oauth.completeAuthorization(login, redirectURL: pasted, user: "alice")
        let token = try await oauth.accessToken(app: "up", user: "alice", minimumValidity: .seconds(300))
        let me = try await oauth.request(app: "up", user: "alice", method: "GET", path: "users/@me")
        await oauth.shutdown()
        // --- end ---
        #expect(token == grant.accessToken)
        #expect(me.status == 200)
        #expect(String(decoding: me.body, as: UTF8.self).contains("\"xid\""))
        #expect(sandbox.provider.statistics.authorizationCodeGrants == 1)
    }
}
