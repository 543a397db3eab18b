import Foundation
import NIOHTTP1
import Testing
import UPVaultTesting

extension LoadSensitiveTests {
    /// The incident of today: revoke every grant of an app, paced, killed and resumed; and a bulk
    /// refresh that keeps to a provider's rate limit.
    @Suite struct BulkRevokeTests {
        /// A vault with app `up` registered from the sandbox's metadata and `count` seeded grants.
        static func seeded(_ count: Int, sandbox arguments: [String] = []) async throws -> (CLI, Sandbox) {
            var cli = CLI()
            try cli.initVault()
            let sandbox = try Sandbox(arguments)
            let added = try cli.run(
                ["app", "add", "up", "--issuer", sandbox.url, "--client-id", "sandbox-client"],
                input: try await sandbox.clientSecret() + "\n")
            #expect(added.status == 0, "\(added.stderr)")
            let seeded = try await sandbox.admin("seed", "count=\(count)").body
            let imported = try cli.run(["import", "grants", "up", cli.writePrivate("grants.json", seeded), "--shred"])
            #expect(imported.status == 0, "\(imported.stderr)")
            return (cli, sandbox)
        }

        /// The sandbox's revocation log: how many live refresh tokens it revoked, per user.
        static func revokedRefreshTokens(_ sandbox: Sandbox) async throws -> [String: Int] {
            let log = try await sandbox.request(.GET, "/admin/revocations")
            let entries = try JSONSerialization.jsonObject(with: Data(log.body.utf8)) as? [[String: Any]] ?? []
            var counts: [String: Int] = [:]
            for entry in entries where entry["kind"] as? String == "refresh_token" {
                counts[entry["user"] as? String ?? "?", default: 0] += 1
            }
            return counts
        }

        @Test func revokeAllWithFaultsAndTwoKillsRevokesEveryGrantExactlyOnce() async throws {
            let (cli, sandbox) = try await Self.seeded(
                1000, sandbox: ["--server-error-rate", "0.05", "--drop-rate", "0.02", "--latency-ms", "5"])
            defer { cli.cleanUp() }
            var taken = 0
            for attempt in 0..<2 {
                let command = try RunningCommand(
                    cli: cli,
                    attempt == 0
                        ? ["revoke", "--app", "up", "--all", "--concurrency", "8"]
                        : ["revoke", "--resume", "--concurrency", "8"])
                taken = try await sandbox.killMidRun(command, after: taken + 300, counter: "revocation_requests")
                let killed = try command.finish()
                #expect(killed.status != 0, "the kill landed after the run had finished: \(killed.stderr)")
            }
            let audit = try cli.run(["audit", "--json"])
            #expect(audit.stdout.contains("revocation_pending"), "a kill mid-run leaves grants in flight")
            let resumed = try cli.run(["revoke", "--resume", "--json"])
            #expect(resumed.status == 0, "\(resumed.stderr)")
            let report = try JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8)) as? [String: Any] ?? [:]
            #expect(report["selected"] as? Int == 1000 && (report["failed"] as? [Any])?.isEmpty == true)
            #expect((report["resumed_in_flight"] as? Int ?? 0) > 0)
            let counts = try await Self.revokedRefreshTokens(sandbox)
            #expect(counts.count == 1000 && counts.values.allSatisfy { $0 == 1 })
            #expect(!(try cli.run(["grants"]).stdout.contains("active")))
            #expect(try cli.run(["audit"]).status == 0)
            #expect((try await sandbox.stats()["faults_injected"] ?? 0) > 0)
            #expect(try cli.run(["fsck"]).status == 0)
            await sandbox.stop()
        }

        @Test func aPacedBulkRefreshNeverExceedsItsRateAtTheProvider() async throws {
            let (cli, sandbox) = try await Self.seeded(1000)
            defer { cli.cleanUp() }
            // Four workers: the pacer spaces departures, but requests taken by more workers than the rate
            // needs can leave together when this machine (two cores, the other tests) stalls the process.
            let run = try cli.run(["refresh", "--all", "--rate", "50/s", "--concurrency", "4", "--json"])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains("\"paced_at\":50"))
            let stats = try await sandbox.stats()
            #expect(stats["refreshes_succeeded"] == 1000)
            #expect((stats["busiest_second"] ?? 0) <= 50 && (stats["busiest_second"] ?? 0) >= 40, "\(stats)")
            await sandbox.stop()
        }

        @Test func aRateLimitedProviderSlowsTheWholeRevocationDown() async throws {
            let (cli, sandbox) = try await Self.seeded(100, sandbox: ["--rate-limit", "25"])
            defer { cli.cleanUp() }
            let run = try cli.run(["revoke", "--app", "up", "--all", "--json"])
            #expect(run.status == 0, "\(run.stderr)")
            let report = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] ?? [:]
            #expect(report["revoked"] as? Int == 100)
            #expect((report["rate_limited"] as? Int ?? 0) > 0)
            let settled = try #require(report["settled_rate"] as? Double)
            #expect(settled < 25 && settled > 0)
            #expect(try await Self.revokedRefreshTokens(sandbox).count == 100)
            // With the app's own limit the next run is paced from the start and never answered 429.
            #expect(try cli.run(["app", "set", "up", "--rate-limit", "20/s"]).status == 0)
            let seeded = try await sandbox.admin("seed", "count=50").body
            let file = cli.writePrivate("more.json", seeded)
            #expect(try cli.run(["import", "grants", "up", file, "--shred"]).status == 0)
            let before = try await sandbox.stats()["rate_limited"] ?? 0
            // Two workers, so that a stalled machine cannot send a bunch of taken requests at once.
            let paced = try cli.run(["revoke", "--app", "up", "--all", "--concurrency", "2", "--json"])
            #expect(paced.status == 0 && paced.stdout.contains("\"paced_at\":20"), "\(paced.stdout)")
            #expect(try await sandbox.stats()["rate_limited"] == before)
            await sandbox.stop()
        }
    }
}
