import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import UPVaultSandbox

/// upvault-sandbox in this process, on a free loopback port (HummingbirdTesting's live server): the
/// provider's state is in the test's hands, and it stops when the test's closure returns.
package struct InProcessSandbox: Sendable {
    /// `http://127.0.0.1:PORT`.
    package let url: String
    package let provider: Provider
    /// The registered client's current secret.
    package let clientSecret: String
    let client: any TestClientProtocol

    /// Runs `body` with a sandbox whose client is `sandbox-client`.
    package static func run<R: Sendable>(
        settings: Provider.Settings = Provider.Settings(), faults: Provider.Faults = Provider.Faults(),
        _ body: @Sendable (InProcessSandbox) async throws -> R
    ) async throws -> R {
        let secret = Provider.token()
        let provider = Provider(
            client: Provider.Client(id: "sandbox-client", secrets: [Provider.ClientSecret(value: secret)]),
            settings: settings, faults: faults)
        let app = Application(
            router: buildRouter(provider: provider, adminToken: AdminToken.generate()), server: .sandbox(provider),
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)))
        return try await app.test(.live) { client in
            guard let port = client.port else { throw HarnessError.commandFailed("sandbox", "no port") }
            return try await body(
                InProcessSandbox(
                    url: "http://127.0.0.1:\(port)", provider: provider, clientSecret: secret, client: client))
        }
    }

    /// Where the authorization endpoint sends the browser for `authorizationURL` (its `Location`).
    package func redirect(for authorizationURL: String) async throws -> String {
        guard let components = URLComponents(string: authorizationURL) else {
            throw HarnessError.commandFailed("authorize", "not a URL")
        }
        let target = components.percentEncodedPath + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        let response = try await client.execute(uri: target, method: .get)
        guard response.status == .found, let location = response.headers[.location] else {
            throw HarnessError.commandFailed("authorize", "HTTP \(response.status.code)")
        }
        return location
    }
}
