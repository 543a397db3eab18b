import Foundation
import NIOHTTP1
import Testing
import UPVaultTesting

extension LoadSensitiveTests {
    /// The Heartbleed drill against the sandbox: rotation with a grace window, the cut-off, the bulk
    /// refresh of every grant, the audit; with faults; and with the refresh killed and resumed.
    @Suite struct IncidentDrillTests {
        /// A vault with app `up` and `count` seeded grants imported from the sandbox.
        static func seeded(_ count: Int, sandbox arguments: [String] = []) async throws -> (CLI, Sandbox) {
            var cli = CLI()
            cli.environment["UPVAULT_AGENT_SOCK"] = cli.directory + "/run/agent.sock"
            try cli.initVault()
            let sandbox = try Sandbox(arguments)
            try await cli.addSandboxApp(sandbox)
            let seeded = try await sandbox.admin("seed", "count=\(count)").body
            let file = cli.writePrivate("grants.json", seeded)
            let imported = try cli.run(["import", "grants", "up", file, "--shred"])
            #expect(imported.status == 0, "\(imported.stderr)")
            return (cli, sandbox)
        }

        /// The access token stored for every grant, read in one `inject`.
        static func storedTokens(_ cli: CLI, users: Int, except excluded: Set<Int> = []) throws -> [String: String] {
            let template = (1...users).filter { !excluded.contains($0) }.map {
                "user\($0) {{ upvault:grant/up/user\($0)/access_token }}"
            }.joined(separator: "\n")
            let path = cli.writePrivate("tokens.tmpl", template + "\n")
            let rendered = try cli.run(["inject", "-i", path])
            #expect(rendered.status == 0, "\(rendered.stderr)")
            var tokens: [String: String] = [:]
            for line in rendered.stdout.split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2 { tokens[String(parts[0])] = String(parts[1]) }
            }
            return tokens
        }

        /// How many of the tokens the provider accepts on users/@me.
        static func working(_ tokens: [String: String], sandbox: Sandbox) async throws -> Int {
            var count = 0
            for token in tokens.values {
                let reply = try await sandbox.request(
                    .GET, "/nudge/api/v.1.1/users/@me", headers: [("Authorization", "Bearer \(token)")])
                if reply.status == 200 { count += 1 }
            }
            return count
        }

        @Test func theWholeDrill() async throws {
            let (cli, sandbox) = try await Self.seeded(1000)
            defer { cli.cleanUp() }
            let incident = Int(Date().timeIntervalSince1970) - 60
            // 2014-04-07: the provider reissues the secret; both are valid for the grace window.
            let rotated = try await sandbox.admin("rotate-secret", "grace=1209600").json["client_secret"] as! String
            let rotate = try cli.run(["app", "rotate-secret", "up", "--grace", "14d"], input: rotated + "\n")
            #expect(rotate.status == 0, "\(rotate.stderr)")
            let show = try cli.run(["app", "show", "up"]).stdout
            #expect(show.contains("current") && show.contains("previous") && !show.contains(rotated))
            let before = try cli.run(["audit", "--incident", String(incident)])
            #expect(before.status == 4)
            #expect(before.stdout.contains("refreshed with old secret"))
            // 2014-04-25: the old secret dies and every access token with it.
            try await sandbox.admin("end-grace")
            try await sandbox.admin("invalidate-access-tokens")
            #expect(try await Self.working(Self.storedTokens(cli, users: 20), sandbox: sandbox) == 0)

            let dry = try cli.run(["refresh", "--all", "--dry-run"])
            #expect(dry.status == 0 && dry.stderr.contains("1000 grants selected"))
            #expect(try await sandbox.stats()["refresh_grants"] == 0)
            let refresh = try cli.run(["refresh", "--all", "--json"])
            #expect(refresh.status == 0, "\(refresh.stderr)")
            let report = try JSONSerialization.jsonObject(with: Data(refresh.stdout.utf8)) as? [String: Any]
            #expect(report?["refreshed"] as? Int == 1000)
            let tokens = try Self.storedTokens(cli, users: 1000)
            #expect(tokens.count == 1000)
            #expect(try await Self.working(tokens, sandbox: sandbox) == 1000)
            let after = try cli.run(["audit", "--incident", String(incident)])
            #expect(after.status == 0, "\(after.stdout)")
            #expect(after.stdout.contains("nothing needs action"))
            #expect(try await sandbox.stats()["invalid_client"] == 0)
            await sandbox.stop()
        }

        @Test func withFaultsEveryGrantEndsRefreshedOrReported() async throws {
            let (cli, sandbox) = try await Self.seeded(600, sandbox: ["--rotate-refresh-tokens"])
            defer { cli.cleanUp() }
            try await sandbox.admin(
                "faults", "server_error_rate=0.1&drop_rate=0.02&rate_limit_rate=0.005&retry_after=1&error_200_rate=0.02"
            )
            try await sandbox.admin("revoke", "user=user7")
            let refresh = try cli.run(["refresh", "--all", "--json", "--concurrency", "16"])
            #expect(refresh.status == 3 || refresh.status == 4, "\(refresh.stderr)")
            let lines = refresh.stdout.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            let reported = Set(lines.compactMap { $0["grant"] as? String })
            #expect(reported.contains("up/user7"))
            let report = try #require(lines.last)
            let refreshed = report["refreshed"] as? Int ?? 0
            #expect(refreshed + reported.count == 600, "refreshed \(refreshed), reported \(reported.count)")
            try await sandbox.admin("faults", "server_error_rate=0&drop_rate=0&rate_limit_rate=0&error_200_rate=0")
            let tokens = try Self.storedTokens(cli, users: 600, except: [7])
            let working = try await Self.working(tokens, sandbox: sandbox)
            #expect(working == refreshed)
            let stats = try await sandbox.stats()
            #expect(stats["faults_injected"] ?? 0 > 30)
            #expect(stats["consumed_refresh_token_reuses"] == 0)
            #expect(try cli.run(["grants"]).stdout.contains("revoked"))
            await sandbox.stop()
        }

        @Test func killedWithSIGKILLAndResumedNothingLost() async throws {
            // 800 grants, 8 at a time: each kill lands once the sandbox has taken some more refreshes (100 at
            // first, then 20 to 100 more) and holds the next ones unanswered, so every kill is mid-run.
            let (cli, sandbox) = try await Self.seeded(800, sandbox: ["--latency-ms", "10"])
            defer { cli.cleanUp() }
            try await sandbox.admin("invalidate-access-tokens")
            var generator = SystemRandomNumberGenerator()
            var answered = try await sandbox.stats()["refresh_grants"] ?? 0
            for attempt in 0..<4 {
                let command = try RunningCommand(
                    cli: cli,
                    attempt == 0
                        ? ["refresh", "--all", "--concurrency", "8"] : ["refresh", "--resume", "--concurrency", "8"])
                let more = attempt == 0 ? 100 : Int.random(in: 20...100, using: &generator)
                answered = try await sandbox.killMidRun(command, after: answered + more)
                _ = try command.finish()
                if attempt == 0 {
                    // The kill really interrupted a run: its journal is there to resume.
                    let pending = try cli.run(["refresh", "--resume", "--dry-run"])
                    #expect(pending.status == 0, "\(pending.stderr)")
                }
            }
            let resumed = try cli.run(["refresh", "--resume", "--json"])
            // A run that finished before its kill leaves nothing to resume; then refresh what is left.
            let final =
                resumed.stderr.contains("nothing to resume") || resumed.stderr.contains("no interrupted")
                ? try cli.run(["refresh", "--all", "--json"]) : resumed
            #expect(final.status == 0, "\(final.stderr)")
            let tokens = try Self.storedTokens(cli, users: 800)
            #expect(try await Self.working(tokens, sandbox: sandbox) == 800)
            #expect(try await sandbox.stats()["consumed_refresh_token_reuses"] == 0)
            #expect(try cli.run(["fsck"]).status == 0)
            await sandbox.stop()
        }

        /// With a provider that rotates refresh tokens, a refresh whose answer died with the process cannot be
        /// recovered by anyone: such grants must come out reported (needs re-authorization, with the reason),
        /// never silently broken, and the rest refreshed.
        @Test func killedWithRotatingRefreshTokensLosesNothingSilently() async throws {
            let (cli, sandbox) = try await Self.seeded(400, sandbox: ["--latency-ms", "10", "--rotate-refresh-tokens"])
            defer { cli.cleanUp() }
            var answered = try await sandbox.stats()["refresh_grants"] ?? 0
            for attempt in 0..<3 {
                let command = try RunningCommand(
                    cli: cli,
                    attempt == 0
                        ? ["refresh", "--all", "--concurrency", "8"] : ["refresh", "--resume", "--concurrency", "8"])
                // Killed once the sandbox has taken 60 more refreshes and holds the next: mid-run, as it proves.
                answered = try await sandbox.killMidRun(command, after: answered + 60)
                _ = try command.finish()
                if attempt == 0 {
                    let pending = try cli.run(["refresh", "--resume", "--dry-run"])
                    #expect(pending.status == 0, "the first kill must interrupt a run: \(pending.stderr)")
                }
            }
            var final = try cli.run(["refresh", "--resume", "--json"])
            if final.stderr.contains("no interrupted") { final = try cli.run(["refresh", "--all", "--json"]) }
            #expect(final.status == 0 || final.status == 3, "\(final.stderr)")
            let grants =
                try JSONSerialization.jsonObject(with: Data(try cli.run(["grants", "--json"]).stdout.utf8))
                as? [[String: Any]] ?? []
            let lost = grants.filter { $0["status"] as? String != "active" }
            for grant in lost {
                #expect((grant["status_reason"] as? String ?? "").contains("interrupted"), "\(grant)")
            }
            let active = Set(
                grants.filter { $0["status"] as? String == "active" }.compactMap {
                    ($0["user"] as? String)?.dropFirst(4)
                }
                .compactMap { Int($0) })
            let tokens = try Self.storedTokens(cli, users: 400, except: Set(1...400).subtracting(active))
            #expect(try await Self.working(tokens, sandbox: sandbox) == active.count)
            #expect(active.count + lost.count == 400)
            // Each lost grant is one request with a consumed token, made once, to find out.
            #expect(try await sandbox.stats()["consumed_refresh_token_reuses"] == lost.count)
            await sandbox.stop()
        }

        @Test func throughTheAgent() async throws {
            var (cli, sandbox) = try await Self.seeded(100)
            defer {
                cli.stopAgent()
                cli.cleanUp()
            }
            try await sandbox.admin("invalidate-access-tokens")
            #expect(try cli.run(["unlock"]).status == 0)
            cli.environment["UPVAULT_PASSPHRASE_FILE"] = nil
            let refresh = try cli.run(["refresh", "--all", "--json"])
            #expect(refresh.status == 0, "\(refresh.stderr)")
            #expect(refresh.stdout.contains("\"refreshed\":100"))
            #expect(try await Self.working(Self.storedTokens(cli, users: 100), sandbox: sandbox) == 100)
            await sandbox.stop()
        }
    }
}
