import Foundation
import Testing
import UPVaultTesting

/// `token` through the agent, `exec` and `inject`: tokens for scripts.
@Suite struct ScriptToolsTests {
    /// A vault with app `up` and grant `up/me` imported from the sandbox's kiefer config, unlocked.
    static func unlockedWithGrant() async throws -> (CLI, Sandbox, [String: String]) {
        var cli = CLI()
        cli.environment["UPVAULT_AGENT_SOCK"] = cli.directory + "/run/agent.sock"
        try cli.initVault()
        let config = cli.directory + "/config.json"
        let sandbox = try Sandbox(["--write-kiefer-config", config])
        let original =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as! [String: Any]
        let imported = try cli.run([
            "import", "kiefer", config, "--user", "me", "--provider-url", sandbox.url, "--shred",
        ])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try cli.run(["secret", "set", "db-password"], input: "hunter2\n").status == 0)
        #expect(try cli.run(["unlock"]).status == 0)
        cli.environment["UPVAULT_PASSPHRASE_FILE"] = nil
        return (cli, sandbox, original.compactMapValues { $0 as? String })
    }

    @Test func tokenThroughTheAgentRefreshesInTheAgent() async throws {
        let (cli, sandbox, original) = try await Self.unlockedWithGrant()
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        for _ in 0..<10 {
            #expect(try cli.run(["token"]).stdout == original["access_token"]! + "\n")
        }
        // Imported: the expiry is unknown, so only an explicit refresh asks the provider.
        #expect(try cli.run(["token", "--min-valid", "400d"]).stdout == original["access_token"]! + "\n")
        let refreshed = try cli.run(["token", "--refresh"])
        #expect(refreshed.status == 0, "\(refreshed.stderr)")
        #expect(refreshed.stdout != original["access_token"]! + "\n")
        #expect(try await sandbox.stats()["refreshes_succeeded"] == 1)
        #expect(try cli.run(["token"]).stdout == refreshed.stdout)
        try await sandbox.admin("revoke", "user=user1")
        let revoked = try cli.run(["token", "--min-valid", "400d"])
        #expect(revoked.status == 3, "\(revoked.stderr)")
        #expect(try cli.run(["grants"]).stdout.contains("revoked"))
        await sandbox.stop()
    }

    @Test func execPassesTheExitStatusAndOnlyTheDefaultValues() async throws {
        let (cli, sandbox, original) = try await Self.unlockedWithGrant()
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        let failing = try cli.run(["exec", "--", "/bin/sh", "-c", "exit 7"])
        #expect(failing.status == 7)
        let environment = try cli.run(["exec", "--", "/usr/bin/env"])
        #expect(environment.status == 0)
        #expect(environment.stdout.contains("UP_ACCESS_TOKEN=\(original["access_token"]!)\n"))
        #expect(environment.stdout.contains("UP_CLIENT_ID=sandbox-client\n"))
        #expect(!environment.stdout.contains("UPVAULT_"), "upvault's own settings reached the child")
        for secret in [original["refresh_token"]!, original["client_secret"]!, "hunter2"] {
            #expect(!environment.stdout.contains(secret))
        }
        let mapped = try cli.run([
            "exec", "--env", "REFRESH=grant/up/me/refresh_token", "--env", "SECRET=app/up/client_secret",
            "--env", "DB=secret/db-password", "--", "/usr/bin/env",
        ])
        #expect(mapped.stdout.contains("REFRESH=\(original["refresh_token"]!)\n"))
        #expect(mapped.stdout.contains("SECRET=\(original["client_secret"]!)\n"))
        #expect(mapped.stdout.contains("DB=hunter2\n"))
        let missing = try cli.run(["exec", "--", "/nonexistent/program"])
        #expect(missing.status == 127)
        #expect(try cli.run(["exec", "--env", "X=nonsense", "--", "/bin/true"]).status == 64)
        await sandbox.stop()
    }

    @Test func kieferConfigExistsOnlyForTheChild() async throws {
        let (cli, sandbox, original) = try await Self.unlockedWithGrant()
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        let script =
            #"printf '%s\n' "$KIEFER_CONFIG"; cat "$KIEFER_CONFIG"; (printf x >> "$KIEFER_CONFIG") 2>/dev/null && echo WRITABLE; true"#
        let run = try cli.run(["exec", "--kiefer-config", "KIEFER_CONFIG", "--", "/bin/sh", "-c", script])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n", maxSplits: 1).map(String.init)
        let path = try #require(lines.first)
        #expect(path.hasPrefix("/dev/fd/"))
        #expect(!run.stdout.contains("WRITABLE"), "the child's config is sealed")
        let config = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any]
        #expect(config?["client_id"] as? String == "sandbox-client")
        #expect(config?["refresh_token"] as? String == original["refresh_token"])
        #expect(config?["access_token"] as? String == original["access_token"])
        // No file anywhere in the test's directory holds the config.
        let files = FileManager.default.enumerator(atPath: cli.directory)?.compactMap { $0 as? String } ?? []
        for file in files {
            let data = (try? Data(contentsOf: URL(fileURLWithPath: cli.directory + "/" + file))) ?? Data()
            #expect(data.range(of: Data(original["refresh_token"]!.utf8)) == nil, "\(file)")
        }
        await sandbox.stop()
    }

    @Test func injectWritesAPrivateFileOrNothing() async throws {
        let (cli, sandbox, original) = try await Self.unlockedWithGrant()
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        let template = cli.writePrivate(
            "settings.tmpl",
            "client = {{ upvault:app/up/client_id }}\ntoken = {{upvault:grant/up/me/access_token}}\ndb = {{ upvault:secret/db-password }}\nother = {{ not_ours }}\n",
            mode: 0o644)
        let output = cli.writePrivate("settings.ini", "old contents\n", mode: 0o644)
        let rendered = try cli.run(["inject", "-i", template, "-o", output])
        #expect(rendered.status == 0, "\(rendered.stderr)")
        let text = try String(contentsOfFile: output, encoding: .utf8)
        #expect(
            text
                == "client = sandbox-client\ntoken = \(original["access_token"]!)\ndb = hunter2\nother = {{ not_ours }}\n"
        )
        let mode = try FileManager.default.attributesOfItem(atPath: output)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // A bad reference: exit 64, the output untouched.
        let bad = cli.writePrivate("bad.tmpl", "x = {{ upvault:secret/db-password }}\ny = {{ upvault:grant/up }}\n")
        let refused = try cli.run(["inject", "-i", bad, "-o", output])
        #expect(refused.status == 64)
        #expect(try String(contentsOfFile: output, encoding: .utf8) == text)
        let unknown = cli.writePrivate("unknown.tmpl", "{{ upvault:secret/nope }}")
        #expect(try cli.run(["inject", "-i", unknown, "-o", output]).status == 1)
        #expect(try String(contentsOfFile: output, encoding: .utf8) == text)
        await sandbox.stop()
    }
}

/// `upvault token` has a fast path (no argument parser) when an agent answers: it must behave exactly
/// like the full command.
@Suite struct TokenFastPathTests {
    @Test func fastAndFullPathsAgree() async throws {
        let (cli, sandbox, original) = try await ScriptToolsTests.unlockedWithGrant()
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        let fast = try cli.run(["token"])
        let full = try cli.run(["token", "--json"])
        #expect(fast.stdout == original["access_token"]! + "\n")
        #expect(full.stdout.contains(original["access_token"]!))
        #expect(try cli.run(["token", "--app", "up", "--user", "me", "--min-valid", "1h"]).stdout == fast.stdout)
        let unknownUser = try cli.run(["token", "--user", "nobody"])
        let unknownUserFull = try cli.run(["token", "--user", "nobody", "--json"])
        #expect(unknownUser.status == 1 && unknownUser.stderr == unknownUserFull.stderr && unknownUserFull.status == 1)
        // A second app makes the choice ambiguous: usage error, same line either way.
        #expect(
            try cli.run(
                ["app", "add", "other", "--client-id", "x", "--redirect-uri", "https://example.com/cb"], input: "s\n"
            ).status == 0)
        let ambiguous = try cli.run(["token"])
        let ambiguousFull = try cli.run(["token", "--json"])
        #expect(ambiguous.status == 64 && ambiguousFull.status == 64)
        #expect(ambiguous.stderr == ambiguousFull.stderr)
        #expect(ambiguous.stderr.contains("several apps"))
        // An agent for another vault is not used: this vault is then locked.
        var elsewhere = cli
        elsewhere.environment["UPVAULT_PATH"] = cli.directory + "/vault/other.upv"
        elsewhere.usePassphrase("x")
        #expect(try elsewhere.run(["init", "--kdf", "1:8"]).status == 0)
        elsewhere.environment["UPVAULT_PASSPHRASE_FILE"] = nil
        #expect(try elsewhere.run(["token"]).status == 75)
        await sandbox.stop()
    }
}
