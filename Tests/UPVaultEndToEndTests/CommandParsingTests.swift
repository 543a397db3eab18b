import ArgumentParser
import Testing
import UPVault
import UPVaultTesting

@testable import upvault_cli

/// The CLI's argument types and usage checks, parsed in-process: no binary spawned.
@Suite struct CommandParsingTests {
    @Test(arguments: [
        ("300", 300), ("90s", 90), ("5m", 300), ("8h", 28_800), ("14d", 1_209_600), ("2w", 1_209_600),
        ("0", 0), ("3650d", 315_360_000),
    ])
    func durations(text: String, seconds: Int64) {
        #expect(DurationArgument(argument: text)?.seconds == seconds)
    }

    @Test(arguments: ["", "-1", "5x", "s", "3651d", "9223372036854775807w", "1.5h", " 5m"])
    func badDurations(text: String) {
        #expect(DurationArgument(argument: text) == nil)
    }

    @Test func dates() {
        #expect(DateArgument(argument: "2014-04-25")?.seconds == 1_398_384_000)
        #expect(DateArgument(argument: "2014-04-25T12:00:00Z")?.seconds == 1_398_427_200)
        #expect(DateArgument(argument: "1398384000")?.seconds == 1_398_384_000)
        for bad in ["2014-13-01", "2014-04-32", "1969-01-01", "2014-04", "2014-04-25T25:00:00Z", "yesterday"] {
            #expect(DateArgument(argument: bad) == nil, "\(bad)")
        }
    }

    @Test func kdfChoices() {
        #expect(KDFChoice(argument: "moderate")?.parameters.opsLimit == 3)
        #expect(KDFChoice(argument: "1:8")?.parameters.memLimit == 8 << 20)
        #expect(KDFChoice(argument: "99:1") == nil)
        #expect(KDFChoice(argument: "1:4096") == nil)
        #expect(KDFChoice(argument: "fast") == nil)
    }

    @Test func enumsParseTheirNames() {
        #expect(HTTPMethodArgument(argument: "get") == .GET)
        #expect(HTTPMethodArgument(argument: "TRACE") == nil)
        #expect(ProviderArgument(argument: "generic") == .generic)
        #expect(ClientAuthArgument(argument: "client_secret_basic")?.value == .clientSecretBasic)
    }

    /// Usage mistakes are caught by `validate()` before anything runs (exit 64).
    @Test(arguments: [
        ["refresh"], ["refresh", "--app", "up"], ["exec"], ["export", "kiefer"],
        ["app", "rotate-secret", "up", "--grace", "1d", "--grace-until", "2014-04-25"],
        ["api", "GET", "users/@me", "-f", "novalue"], ["api", "GET", "users/@me", "-f", "=x"],
        ["api", "TRACE", "users/@me"], ["init", "--kdf", "99:1"],
    ])
    func usageErrors(arguments: [String]) {
        do {
            _ = try UPVaultCommand.parseAsRoot(arguments)
            Issue.record("\(arguments) parsed")
        } catch {
            #expect(UPVaultCommand.exitCode(for: error).rawValue == 64, "\(arguments): \(error)")
        }
    }

    @Test func wellFormedCommandsParse() throws {
        #expect(try UPVaultCommand.parseAsRoot(["refresh", "--all", "--concurrency", "8"]) is Refresh)
        #expect(try UPVaultCommand.parseAsRoot(["exec", "--", "/bin/true"]) is Exec)
        #expect(try UPVaultCommand.parseAsRoot(["api", "get", "users/@me", "-f", "a=b=c"]) is API)
    }
}
