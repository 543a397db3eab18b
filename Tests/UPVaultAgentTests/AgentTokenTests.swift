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

/// The hand-written JSON of the two requests scripts make in loops, against JSONEncoder and JSONDecoder.
@Suite struct AgentFastJSONTests {
    static let names = ["s1", "a/b", "\u{E9}\"\\\n\u{1}", "", String(repeating: "x", count: 300), "😀 /"]

    static func parsed(_ bytes: [UInt8]) throws -> NSDictionary? {
        try JSONSerialization.jsonObject(with: Data(bytes)) as? NSDictionary
    }

    @Test func requestsAreTheJSONThatJSONEncoderWrites() throws {
        for name in Self.names {
            for vault in ["/v/vault.upv", "/tmp/a b/\u{E9}.upv"] {
                let get = AgentRequest.get(kind: 1, name: name)
                let fast = try #require(get.fastEnvelope(vault: vault))
                let slow = try AgentFrame.encode(AgentEnvelope(vault: vault, request: get))
                #expect(try Self.parsed(fast) != nil && Self.parsed(fast) == Self.parsed(slow), "\(name)")
                for (app, user) in [(String?.none, String?.none), (name, nil), (nil, name), ("up", name)] {
                    for force in [false, true] {
                        let token = AgentTokenRequest.token(app: app, user: user, minValid: -7, force: force)
                        let fastToken = try #require(token.fastEnvelope(vault: vault))
                        let slowToken = try AgentFrame.encode(AgentEnvelope(vault: vault, request: token))
                        #expect(try Self.parsed(fastToken) == Self.parsed(slowToken), "\(name)")
                    }
                }
            }
        }
        #expect(AgentRequest.status.fastEnvelope(vault: "/v") == nil)
    }

    @Test func plainAnswersReadAsJSONDecoderReadsThemAndAnythingElseIsLeftToIt() throws {
        for text in Self.names + ["dg==", "ab/+cd=="] {
            let value = try AgentFrame.encode(AgentReply<AgentResponse>.ok(.value(base64: text)))
            #expect(AgentRequest.fastResponse(value) == .value(base64: text))
            let token = try AgentFrame.encode(AgentReply<AgentTokenResponse>.ok(.token(text)))
            #expect(AgentTokenRequest.fastResponse(token) == .token(text))
        }
        let others: [[UInt8]] = [
            try AgentFrame.encode(AgentReply<AgentResponse>.ok(.value(base64: nil))),
            try AgentFrame.encode(AgentReply<AgentResponse>.error(AgentFailure(category: .usage, message: "no"))),
            try AgentFrame.encode(AgentReply<AgentResponse>.ok(.found(true))),
            Array(#"{"ok":{"value":{"base64":"a"}}}}"#.utf8), Array(#"{"ok":{"value":{"base64":"a"x}}}"#.utf8),
            Array(#"{"ok":{"value":{"base64":"a","more":1}}}"#.utf8), Array(#"{"ok":{"value":{"base64":1}}}"#.utf8),
            Array(#"{"ok":{"value":{"base64":"}}}"#.utf8), [],
        ]
        for answer in others {
            #expect(AgentRequest.fastResponse(answer) == nil, "\(String(decoding: answer, as: UTF8.self))")
            #expect(AgentTokenRequest.fastResponse(answer) == nil)
        }
    }
}
