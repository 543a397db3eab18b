import Foundation
import NIOHTTP1
import Synchronization
import Testing
import UPVaultTesting

extension LoadSensitiveTests {
    /// Single flight, proven against a provider that rotates refresh tokens and revokes a grant when a
    /// consumed refresh token comes back (RFC 9700 §4.14.2): a second redemption would show in its counters.
    @Suite(.serialized) struct ContentionTests {
        /// What the workers and the killer share: counters, the running commands, the random choices.
        final class Shared: Sendable {
            let state = Mutex<(started: Int, finished: Int, running: [Int: RunningCommand], kills: Int)>((0, 0, [:], 0))
            let generator = Mutex(SeededGenerator(seed: 10))
            let killer = Mutex(SeededGenerator(seed: 11))
        }

        static let strictProvider = ["--rotate-refresh-tokens", "--revoke-family-on-reuse"]

        /// A vault with app `up` that knows its provider rotates refresh tokens, and `count` grants whose
        /// access tokens expire in `expiresIn` seconds.
        static func vault(grants count: Int, expiresIn: Int, sandbox: Sandbox) async throws -> CLI {
            var cli = CLI()
            cli.environment["UPVAULT_AGENT_SOCK"] = cli.directory + "/run/agent.sock"
            try cli.initVault()
            let secret = try await sandbox.clientSecret()
            let add = try cli.run(
                [
                    "app", "add", "up", "--provider", "generic", "--client-id", "sandbox-client", "--redirect-uri",
                    "https://localhost/callback", "--authorize-url", sandbox.url + "/auth/oauth2/auth", "--token-url",
                    sandbox.url + "/auth/oauth2/token", "--api-base", sandbox.url + "/nudge/api/v.1.1",
                ], input: secret + "\n")
            #expect(add.status == 0, "\(add.stderr)")
            let seeded = try await sandbox.admin("seed", "count=\(count)").body
            var items = try JSONSerialization.jsonObject(with: Data(seeded.utf8)) as! [[String: Any]]
            for index in items.indices { items[index]["expires_in"] = expiresIn }
            let file = cli.writePrivate(
                "grants.json", String(decoding: try JSONSerialization.data(withJSONObject: items), as: UTF8.self))
            let imported = try cli.run(["import", "grants", "up", file, "--shred"])
            #expect(imported.status == 0, "\(imported.stderr)")
            return cli
        }

        @Test func twoHundredProcessesOnOneExpiredGrantMakeOneRefresh() async throws {
            let sandbox = try Sandbox(Self.strictProvider)
            let cli = try await Self.vault(grants: 1, expiresIn: 0, sandbox: sandbox)
            defer { cli.cleanUp() }
            let commands = try (0..<200).map { _ in
                try RunningCommand(cli: cli, ["token", "--app", "up", "--user", "user1"])
            }
            let results = try commands.map { try $0.finish() }
            let failures = results.filter { $0.status != 0 }
            #expect(failures.isEmpty, "\(failures.count) failed, first: \(failures.first?.stderr ?? "")")
            let printed = Set(results.map(\.stdout))
            #expect(printed.count == 1, "the 200 processes printed \(printed.count) different tokens")
            let stats = try await sandbox.stats()
            #expect(stats["refresh_grants"] == 1)
            #expect(stats["consumed_refresh_token_reuses"] == 0 && stats["families_revoked"] == 0)
            let token = try #require(printed.first?.trimmingCharacters(in: .newlines))
            let me = try await sandbox.request(
                .GET, "/nudge/api/v.1.1/users/@me", headers: [("Authorization", "Bearer \(token)")])
            #expect(me.status == 200)
            await sandbox.stop()
        }

        /// 64 processes ask for tokens of random grants (each call a refresh: the access tokens live 1 s
        /// and `--min-valid` is 5 min) while every 30th call SIGKILLs a running one, and every third kill
        /// is the agent's (which `unlock` then restarts). Whatever the kills interrupt: no refresh token is
        /// presented twice, no grant is revoked by the provider, every grant a kill did not cut off
        /// mid-refresh still refreshes, and the ones it did are reported ("interrupted"), not lost silently.
        @Test func killsAmongSixtyFourProcessesNeverRedeemATokenTwice() async throws {
            let sandbox = try Sandbox(Self.strictProvider + ["--access-token-lifetime", "1"])
            var cli = try await Self.vault(grants: 1000, expiresIn: 0, sandbox: sandbox)
            defer {
                cli.stopAgent()
                cli.cleanUp()
            }
            #expect(try cli.run(["unlock"]).status == 0)
            let total = 1280
            let killEvery = 30
            let shared = Shared()
            let snapshot = cli

            let killSomething: @Sendable () throws -> Void = {
                let (number, victim): (Int, RunningCommand?) = shared.state.withLock { state in
                    state.kills += 1
                    let candidates = state.running.keys.sorted()
                    let pick =
                        candidates.isEmpty
                        ? nil : candidates[shared.killer.withLock { Int.random(in: 0..<candidates.count, using: &$0) }]
                    return (state.kills, pick.flatMap { state.running[$0] })
                }
                if number % 3 == 0, let pid = try snapshot.agentPID() {
                    let bytes = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
                    let command = String(decoding: bytes.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
                    #expect(
                        command.contains(" agent ") && command.contains(snapshot.directory + "/run/agent.sock"),
                        "not our agent: \(command)")
                    kill(pid, SIGKILL)
                    #expect(try snapshot.run(["unlock"]).status == 0)
                } else if let victim {
                    // The kill must hit the upvault token process we picked, not setsid or another.
                    if victim.commandLine.contains("token") { victim.signal(SIGKILL) }
                }
            }

            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<64 {
                    group.addTask {
                        while true {
                            let number: Int? = shared.state.withLock { state in
                                guard state.started < total else { return nil }
                                state.started += 1
                                return state.started
                            }
                            guard let number else { return }
                            let user = shared.generator.withLock { Int.random(in: 1...1000, using: &$0) }
                            let command = try RunningCommand(
                                cli: snapshot, ["token", "--app", "up", "--user", "user\(user)"])
                            shared.state.withLock { $0.running[number] = command }
                            let result = try command.finish()
                            let killNow = shared.state.withLock { state in
                                state.running[number] = nil
                                state.finished += 1
                                return state.finished % killEvery == 0
                            }
                            // A call either works, or reports why (3: the grant must be logged in again after an
                            // interrupted refresh), or died with a kill (its own, or the agent's under it).
                            if result.status == 3 {
                                #expect(result.stderr.contains("interrupted"), "\(result.stderr)")
                            }
                            if killNow { try killSomething() }
                        }
                    }
                }
                try await group.waitForAll()
            }

            let stats = try await sandbox.stats()
            #expect(stats["consumed_refresh_token_reuses"] == 0, "a refresh token was presented twice")
            #expect(stats["families_revoked"] == 0)
            #expect((stats["refreshes_succeeded"] ?? 0) > total / 2, "the run refreshed too little to mean anything")

            // Every grant still refreshes, except those a kill cut off mid-refresh, which say so: the ones a
            // later token call found (no longer active), and those only `refresh --all` finds (still marked).
            cli.environment["UPVAULT_AGENT_SOCK"] = cli.directory + "/run/agent.sock"
            let grants =
                try JSONSerialization.jsonObject(with: Data(try cli.run(["grants", "--json"]).stdout.utf8))
                as? [[String: Any]] ?? []
            #expect(grants.count == 1000)
            for grant in grants where grant["status"] as? String != "active" {
                #expect((grant["status_reason"] as? String ?? "").hasPrefix("interrupted"), "\(grant)")
            }
            let kills = shared.state.withLock { $0.kills }
            let refresh = try cli.run(["refresh", "--all", "--json"])
            let report = try #require(
                try JSONSerialization.jsonObject(with: Data((refresh.stdout.split(separator: "\n").last ?? "").utf8))
                    as? [String: Any], "\(refresh.stdout)")
            let cutOff = report["needs_reauthorization"] as? [[String: Any]] ?? []
            for grant in cutOff {
                #expect((grant["reason"] as? String ?? "").hasPrefix("interrupted"), "\(grant)")
            }
            #expect(cutOff.count <= kills)
            #expect((report["failed"] as? [Any])?.isEmpty == true, "\(refresh.stdout)")
            #expect(report["refreshed"] as? Int == 1000 - cutOff.count, "\(refresh.stdout)")
            // Exit 3 names the grants to log in again; there are some exactly when a kill cut one off.
            #expect(refresh.status == (cutOff.isEmpty ? 0 : 3), "\(refresh.stderr)")
            let after = try await sandbox.stats()
            #expect(after["consumed_refresh_token_reuses"] == 0 && after["families_revoked"] == 0)
            print("contention: \(total) token calls, \(kills) kills, \(cutOff.count) grants cut off mid-refresh")
            await sandbox.stop()
        }
    }
}
