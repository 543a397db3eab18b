import Foundation
import Testing
import UPVaultTesting

extension LoadSensitiveTests {
    /// The mass refresh on a vault in PostgreSQL, split across worker processes, with workers killed
    /// on the way; against the sandbox, which counts every refresh token presented twice.
    @Suite(.enabled(if: ProcessInfo.processInfo.environment["UPVAULT_TEST_POSTGRES"] != nil))
    struct PostgresCampaignTests {
        /// How many grants the kill test refreshes: 100,000, the full drill, by default (about nine and a half
        /// minutes of a debug build on two cores, which CI runs); `UPVAULT_CAMPAIGN_GRANTS=20000` for a
        /// quicker run while working on it.
        static let grants = Int(ProcessInfo.processInfo.environment["UPVAULT_CAMPAIGN_GRANTS"] ?? "") ?? 100_000

        /// A database vault (a schema of its own on the test cluster) with app `up` and `count` grants
        /// imported from the sandbox.
        static func seeded(_ count: Int, sandbox arguments: [String]) async throws -> (CLI, Sandbox) {
            var cli = CLI()
            let environment = ProcessInfo.processInfo.environment
            cli.environment["UPVAULT_PATH"] =
                environment["UPVAULT_TEST_POSTGRES"]! + "&schema=campaign_\(UInt32.random(in: 0...UInt32.max))"
            cli.environment["PGPASSFILE"] = environment["PGPASSFILE"]
            cli.environment["UPVAULT_AGENT_SOCK"] = cli.directory + "/run/agent.sock"
            try cli.initVault()
            let sandbox = try Sandbox(arguments)
            // Found by discovery: a provider of today, which rotates refresh tokens (and says so to upvault).
            let added = try cli.run(
                [
                    "app", "add", "up", "--issuer", sandbox.url, "--client-id", "sandbox-client", "--redirect-uri",
                    "https://localhost/callback",
                ], input: try await sandbox.clientSecret() + "\n")
            #expect(added.status == 0, "\(added.stderr)")
            let seeded = try await sandbox.admin("seed", "count=\(count)").body
            let file = cli.writePrivate("grants.json", seeded)
            let imported = try cli.run(["import", "grants", "up", file, "--shred"])
            #expect(imported.status == 0, "\(imported.stderr)")
            return (cli, sandbox)
        }

        static func status(_ cli: CLI) throws -> [String: Any] {
            let result = try cli.run(["refresh", "--status", "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
        }

        @Test func fourWorkersWithKillsRedeemEveryRefreshTokenOnce() async throws {
            let total = Self.grants
            let (cli, sandbox) = try await Self.seeded(total, sandbox: ["--rotate-refresh-tokens"])
            defer { cli.cleanUp() }
            try await sandbox.admin("invalidate-access-tokens")
            var generation = 0
            func worker() throws -> RunningCommand {
                generation += 1
                return try RunningCommand(
                    cli: cli, ["refresh", "--all", "--concurrency", "8", "--lease", "2", "--worker", "w\(generation)"])
            }
            var workers = try (0..<4).map { _ in try worker() }
            var kills = 0
            var generator = SystemRandomNumberGenerator()
            for step in 1...4 {
                let running = workers.indices.filter { workers[$0].process.isRunning }
                guard let index = running.randomElement(using: &generator) else { break }
                let victim = workers[index]
                // Killed once the sandbox has answered another fifth of the grants and holds the next ones
                // unanswered (the sandbox's counter, not a clock): mid-campaign, as it proves. The victim is
                // checked then, when even a worker started at the last step is long past its start-up.
                _ = try await sandbox.killMidRun(victim, after: total * step / 5) {
                    #expect(victim.commandLine.contains("refresh"), "the kill must hit a worker")
                }
                let result = try victim.finish()
                // `setsid -w` reports a child killed by a signal with that signal's number as its status.
                let killed = result.status == SIGKILL && result.stderr.contains("did not exit normally")
                #expect(killed, "the worker died of SIGKILL: \(result.status) \(result.stderr)")
                kills += 1
                workers[index] = try worker()
            }
            var statuses: [Int32] = []
            for worker in workers {
                let result = try worker.finish()
                statuses.append(result.status)
                #expect(result.status == 0 || result.status == 3, "\(result.stderr)")
            }
            #expect(kills == 4)
            let status = try Self.status(cli)
            let refreshed = status["refreshed"] as? Int ?? -1
            let lost = status["needs_reauthorization"] as? Int ?? -1
            #expect(status["total"] as? Int == total)
            #expect(status["waiting"] as? Int == 0 && status["claimed"] as? Int == 0 && status["finished_at"] != nil)
            #expect(status["failed"] as? Int == 0 && status["skipped"] as? Int == 0)
            #expect(refreshed + lost + (status["already_fresh"] as? Int ?? 0) == total, "\(status)")
            // A grant in flight when its worker died is never sent again (its provider rotates refresh
            // tokens): at most the requests in flight of the killed workers, each reported.
            #expect(lost <= kills * 8, "\(status)")
            let stats = try await sandbox.stats()
            #expect(stats["consumed_refresh_token_reuses"] == 0, "a refresh token was presented twice: \(stats)")
            #expect(stats["refreshes_succeeded"] ?? 0 >= refreshed)
            let grants =
                try JSONSerialization.jsonObject(with: Data(try cli.run(["grants", "--json"]).stdout.utf8))
                as? [[String: Any]] ?? []
            #expect(grants.count == total)
            let interrupted = grants.filter { $0["status"] as? String != "active" }
            #expect(interrupted.count == lost)
            for grant in interrupted {
                #expect((grant["status_reason"] as? String ?? "").contains("interrupted"), "\(grant)")
            }
            await sandbox.stop()
        }

        @Test func twoProcessesRefreshingOneGrantSendOneRequest() async throws {
            let (cli, sandbox) = try await Self.seeded(2, sandbox: ["--rotate-refresh-tokens"])
            defer { cli.cleanUp() }
            // One refresh of another grant, then every further refresh request is held at the sandbox.
            #expect(try cli.run(["token", "--app", "up", "--user", "user2", "--refresh"]).status == 0)
            try await sandbox.admin("faults", "hold_after=1")
            let arguments = ["token", "--app", "up", "--user", "user1", "--refresh", "--verbose"]
            let first = try RunningCommand(cli: cli, arguments)
            _ = first.waitForStandardError(containing: "refresh request in flight")
            // The second has read the grant (the same token as the first) and waits for its lock.
            let second = try RunningCommand(cli: cli, arguments)
            _ = second.waitForStandardError(containing: "waiting for an entry lock")
            try await sandbox.admin("faults", "hold_after=0")
            let results = [try first.finish(), try second.finish()]
            for result in results { #expect(result.status == 0, "\(result.stderr)") }
            #expect(results[0].stdout == results[1].stdout, "both print the one new token")
            #expect(results[1].stderr.contains("refresh skipped"), "\(results[1].stderr)")
            let stats = try await sandbox.stats()
            #expect(stats["refresh_grants"] == 2, "one request for two refreshers (and one for user2): \(stats)")
            #expect(stats["consumed_refresh_token_reuses"] == 0)
            await sandbox.stop()
        }
    }
}
