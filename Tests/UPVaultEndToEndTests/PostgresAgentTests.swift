import Foundation
import Testing
import UPVaultTesting

extension LoadSensitiveTests.PostgresCampaignTests {
    /// `upvault unlock` on a database vault: the agent holds the key and every command works through it
    /// with no passphrase (the single-grant commands, the campaign, its status); an entry lock the agent
    /// holds for a client is let go when that client is killed.
    @Test func theAgentServesADatabaseVault() async throws {
        var (cli, sandbox) = try await Self.seeded(3, sandbox: ["--rotate-refresh-tokens"])
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        let unlock = try cli.run(["unlock"])
        #expect(unlock.status == 0, "\(unlock.stderr)")
        #expect(unlock.stderr.contains("unlocked postgres://"), "\(unlock.stderr)")
        cli.environment["UPVAULT_PASSPHRASE_FILE"] = nil
        let status = try cli.run(["status"])
        #expect(status.stdout.contains("unlocked (agent pid"), "\(status.stdout)")

        #expect(try cli.run(["secret", "set", "api-key"], input: "value-1\n").status == 0)
        #expect(try cli.run(["secret", "get", "api-key"]).stdout == "value-1\n")
        let token = try cli.run(["token", "--app", "up", "--user", "user1"])
        #expect(token.status == 0 && !token.stdout.isEmpty, "\(token.stderr)")

        // The campaign runs in the agent; its status comes from the agent too.
        try await sandbox.admin("invalidate-access-tokens")
        let refreshed = try cli.run(["refresh", "--all"])
        #expect(refreshed.status == 0, "\(refreshed.stderr)")
        #expect(refreshed.stderr.contains("refreshing in the agent"), "\(refreshed.stderr)")
        let counts = try Self.status(cli)
        #expect(counts["refreshed"] as? Int == 3 && counts["left"] as? Int == 0, "\(counts)")

        // A revocation held at the sandbox while its process holds the grant's lock (through the agent),
        // then that process killed: the agent lets the lock go, and the next revoke gets it.
        try await sandbox.admin("faults", "hold_after=1")
        let victim = try RunningCommand(cli: cli, ["revoke", "--app", "up", "--user", "user2"])
        _ = try await sandbox.killMidRun(victim, after: 1, counter: "revocation_requests") {
            #expect(victim.commandLine.contains("revoke"), "the kill must hit the revoking process")
        }
        let killed = try victim.finish()
        #expect(killed.status == SIGKILL && killed.stderr.contains("did not exit normally"), "\(killed.stderr)")
        let again = try cli.run(["revoke", "--app", "up", "--user", "user2"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("revoked grant up/user2"), "\(again.stderr)")
        #expect(try cli.run(["token", "--app", "up", "--user", "user2"]).status != 0, "a revoked grant gives no token")

        #expect(try cli.run(["lock"]).status == 0)
        let locked = try cli.run(["secret", "get", "api-key"])
        #expect(locked.status != 0, "locked: no passphrase, no agent")
        await sandbox.stop()
    }
}
