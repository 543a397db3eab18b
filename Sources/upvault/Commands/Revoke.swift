import ArgumentParser
import UPVault
import UPVaultOAuth

struct Revoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke a grant's tokens at the provider (RFC 7009) and mark it revoked in the vault.",
        discussion: """
            The refresh token is revoked first, then the access token. The grant is kept, marked revoked \\
            with a receipt (when, which endpoint, the provider's status); --purge deletes it once revoked. \\
            A revocation cut off in flight shows in 'upvault audit' and is sent again by the next revoke.
            """)

    @OptionGroup var options: GlobalOptions
    @OptionGroup var selection: GrantOptions
    @Flag(help: "Delete the grant from the vault once the provider has revoked it.") var purge = false

    func run() async throws {
        let vault = try options.openStore()
        let (app, user) = try selection.selector(options.environment).grant(in: vault)
        let grant = try await withOAuthClient(vault, logger: options.logger) { client in
            try await client.revoke(app: app, user: user, purge: purge)
        }
        if options.json {
            if let grant { try JSONOutput.print(GrantSummary(grant)) } else { try JSONOutput.print(["purged": true]) }
        } else {
            Terminal.error("revoked grant \(app)/\(user)" + (grant == nil ? " and deleted it" : ""))
        }
    }
}
