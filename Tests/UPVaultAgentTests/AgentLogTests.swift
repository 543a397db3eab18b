import Foundation
import InMemoryLogging
import Logging
import Testing
import UPVaultTesting

@testable import UPVault
@testable import UPVaultAgent
@testable import UPVaultOAuth

/// The agent at trace level: what it logs while serving gets, writes and refusals holds no value.
@Suite struct AgentLogTests {
    @Test func theAgentLogsNoValue() async throws {
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "agent-test") { _ in handler }
        logger.logLevel = .trace
        let fixture = try VaultFixture(prefix: "upvault-agent-log")
        let oauth = OAuthClient(vault: fixture.vault, logger: logger)
        let agent = AgentRequestHandler(
            vault: fixture.vault, oauth: oauth, ttl: .seconds(86_400), idle: .seconds(86_400), logger: logger)
        let value = Base64URL.encode(Array("s3cret-value".utf8), original: true)
        let path = agent.vaultPath
        _ = agent.handle(.write(changes: [.init(kind: 1, name: "db", value: value)]), vault: path)
        _ = agent.handle(.get(kind: 1, name: "db"), vault: path)
        _ = await offThePool { agent.handle(.token(app: "missing", user: "u", minValid: 0, force: true), vault: path) }
        _ = agent.answer(
            Array(
                #"{"vault":"\#(path)","request":{"write":{"changes":[{"kind":9,"name":"x","value":"c2VjcmV0"}]}}}"#.utf8
            ))
        let socket = fixture.directory.file("run/agent.sock")
        let server = AgentServer(handler: agent, socketPath: socket, logger: logger)
        let serving = try #require(await ServingAgent.start(server))
        let client = try #require(
            try AgentClient.connect(vaultPath: fixture.path, environment: ["UPVAULT_AGENT_SOCK": socket]))
        #expect(try client.secret(named: "db")?.utf8String() == "s3cret-value")
        try client.lock()
        #expect(await serving.stopped())
        await oauth.shutdown()
        let text = handler.entries.map { "\($0.level) \($0.message) \($0.metadata)" }.joined(separator: "\n")
        #expect(!handler.entries.isEmpty, "nothing was logged: the test would prove nothing")
        for secret in ["s3cret-value", value, "c2VjcmV0", testPassphrase] {
            #expect(!text.contains(secret), "the agent's log holds '\(secret)':\n\(text)")
        }
    }
}
