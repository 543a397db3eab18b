import Foundation
import Testing
import UPVaultTesting

@Suite struct SecretCommandTests {
    @Test func storeReadListRemove() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        #expect(try cli.run(["secret", "set", "github-token"], input: "ghp_value\n").status == 0)
        #expect(try cli.run(["secret", "set", "raw"], input: "line\n", extraEnvironment: [:]).status == 0)
        #expect(try cli.run(["secret", "set", "--raw", "exact"], input: "keep\n").status == 0)
        #expect(try cli.run(["secret", "get", "github-token"]).stdout == "ghp_value\n")
        #expect(try cli.run(["secret", "get", "--raw", "github-token"]).stdout == "ghp_value")
        #expect(try cli.run(["secret", "get", "--raw", "exact"]).stdout == "keep\n")
        #expect(try cli.run(["secret", "list"]).stdout == "exact\ngithub-token\nraw\n")
        #expect(try cli.run(["secret", "list", "--json"]).stdout == "[\"exact\",\"github-token\",\"raw\"]\n")
        #expect(try cli.run(["secret", "get", "--json", "raw"]).stdout == "{\"name\":\"raw\",\"value\":\"line\"}\n")
        #expect(try cli.run(["secret", "rm", "raw"]).status == 0)
        let missing = try cli.run(["secret", "get", "raw"])
        #expect(missing.status == 1)
        #expect(missing.stderr == "upvault: no secret named 'raw'\n")
        #expect(try cli.run(["secret", "rm", "raw"]).status == 1)
    }

    @Test func valuesNeverComeFromTheCommandLine() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        let result = try cli.run(["secret", "set", "name", "value-on-argv"])
        #expect(result.status == 64)
        #expect(try cli.run(["secret", "list"]).stdout == "")
    }

    @Test func badNamesAreUsageErrors() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        let result = try cli.run(["secret", "set", "bad name"], input: "x")
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("upvault: invalid secret name"))
    }

    @Test func theVaultFileHoldsNothingInClear() throws {
        var cli = CLI()
        defer { cli.cleanUp() }
        try cli.initVault()
        try cli.run(["secret", "set", "the-name-of-it"], input: "the-value-of-it")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: cli.vaultPath))
        for needle in ["the-name-of-it", "the-value-of-it", "first passphrase"] {
            #expect(bytes.range(of: Data(needle.utf8)) == nil)
        }
    }
}
