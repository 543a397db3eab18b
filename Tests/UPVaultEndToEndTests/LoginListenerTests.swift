import Foundation
import NIOHTTP1
import Testing
import UPVaultTesting

/// `login --listen` and what no command may leak: argv, stderr, the vault file.
@Suite struct LoginListenerTests {
    @Test func listenerIgnoresForgedRedirectsAndTakesTheRealOne() async throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        let sandbox = try Sandbox()
        try await cli.addSandboxApp(sandbox, name: "loop", redirect: "http://127.0.0.1/cb")
        let command = try RunningCommand(
            cli: cli, ["login", "--app", "loop", "--user", "carol", "--listen", "--timeout", "30s"])
        let printed = command.waitForStandardError(containing: "...")
        let authorization = try #require(command.authorizationURL())
        let listener = try #require(
            printed.components(separatedBy: "Waiting for the redirect on ").last?.components(separatedBy: " ").first)
        #expect(listener.hasPrefix("http://127.0.0.1:") && listener.hasSuffix("/cb"))
        // Another local process gets there first with a made-up code: ignored, the login goes on.
        let forged = try await sandbox.request(.GET, listener + "?code=stolen&state=guess")
        #expect(forged.status == 200)
        let location = try await sandbox.redirect(for: authorization)
        #expect(location.hasPrefix(listener + "?code="))
        let page = try await sandbox.request(.GET, location)
        #expect(page.body.contains("You can close this window"))
        let result = try command.finish()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try cli.run(["grants", "--app", "loop"]).stdout.contains("carol"))
        await sandbox.stop()
    }

    @Test func noTokenOrSecretInArgvOutputOrTheVaultFile() async throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        let secretFile = cli.writePrivate("client-secret", "sandbox-secret-\(UUID().uuidString)\n")
        let sandbox = try Sandbox(["--client-secret-file", secretFile, "--rotate-refresh-tokens"])
        let clientSecret = try await sandbox.clientSecret()
        #expect(!sandbox.process.arguments!.joined().contains(clientSecret))
        try await cli.addSandboxApp(sandbox)

        let login = try RunningCommand(cli: cli, ["login", "--user", "alice"])
        let url = try #require(login.authorizationURL())
        let argvDuringLogin = login.commandLine
        #expect(argvDuringLogin.hasPrefix(CLI.binary + " login"), "read upvault's own command line: \(argvDuringLogin)")
        login.send(try await sandbox.redirect(for: url))
        var outputs = [try login.finish()]
        outputs.append(try cli.run(["token", "--min-valid", "400d"]))
        let access = outputs.last!.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        outputs.append(try cli.run(["grants"]))
        outputs.append(try cli.run(["grants", "--json"]))
        outputs.append(try cli.run(["app", "show", "up"]))
        outputs.append(try cli.run(["app", "show", "up", "--json"]))
        outputs.append(try cli.run(["api", "GET", "users/@me"]))
        let exported = try cli.run(["export", "kiefer", "--reveal"]).stdout
        let refresh = try #require(
            (try JSONSerialization.jsonObject(with: Data(exported.utf8)) as? [String: Any])?["refresh_token"] as? String
        )

        let vaultBytes = try Data(contentsOf: URL(fileURLWithPath: cli.vaultPath))
        for secret in [access, refresh, clientSecret] {
            #expect(!argvDuringLogin.contains(secret))
            #expect(vaultBytes.range(of: Data(secret.utf8)) == nil)
            for (index, output) in outputs.enumerated() {
                #expect(!output.stderr.contains(secret), "stderr of command \(index)")
                // Only `token` prints a token, on stdout, by design.
                if index != 1 { #expect(!output.stdout.contains(secret), "stdout of command \(index)") }
            }
        }
        await sandbox.stop()
    }
}
