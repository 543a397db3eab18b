import Foundation
import Testing

@testable import UPVault
@testable import UPVaultOAuth

/// The `upvault` front binary asks the agent for tokens with UPVault's `AgentTokenRequest`; the agent
/// decodes UPVaultOAuth's `OAuthAgentRequest`. The two must be one wire format.
@Suite struct AgentTokenTests {
    @Test(arguments: [
        (String?.none, String?.none, Int64(300), false), ("up", "alice", 0, true), ("a/b", "\u{E9}\"", -1, false),
    ])
    func theFrontBinarysTokenRequestIsTheAgentsOwn(app: String?, user: String?, minValid: Int64, force: Bool) throws {
        let front = try AgentFrame.encode(
            AgentEnvelope(
                vault: "/v", request: AgentTokenRequest.token(app: app, user: user, minValid: minValid, force: force)))
        let agent = try AgentFrame.encode(
            AgentEnvelope(
                vault: "/v", request: OAuthAgentRequest.token(app: app, user: user, minValid: minValid, force: force)))
        // The same JSON (JSONEncoder's key order is not fixed): equal as parsed objects.
        let parse = { (bytes: [UInt8]) in try JSONSerialization.jsonObject(with: Data(bytes)) as? NSDictionary }
        #expect(try parse(front) != nil && parse(front) == parse(agent))
        #expect(AgentTokenRequest.envelopeKey == OAuthAgentRequest.envelopeKey)
    }

    @Test func theAgentsTokenAnswerDecodesAsTheFrontBinaryReadsIt() throws {
        let answer = try JSONEncoder().encode(OAuthAgentResponse.token("tok-1"))
        #expect(try JSONDecoder().decode(AgentTokenResponse.self, from: answer) == .token("tok-1"))
    }
}
