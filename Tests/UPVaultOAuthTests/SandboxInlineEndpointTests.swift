import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Synchronization
import Testing
import UPVault
import UPVaultTesting

@testable import UPVaultOAuth
@testable import UPVaultSandbox

/// The sandbox answers token and revocation POSTs on the event loop (`InlineEndpoints`) and passes every
/// other request to the router. On an `EmbeddedChannel` with a stand-in for the router behind it: what
/// is answered where, in which order, and that a request the handler cannot answer reaches the router
/// whole.
@Suite struct SandboxInlineEndpointTests {
    /// The router's stand-in: keeps what reaches it; `answer` writes a response as the router would.
    final class Router: ChannelInboundHandler {
        typealias InboundIn = HTTPRequestPart
        typealias OutboundOut = HTTPResponsePart
        var parts: [HTTPRequestPart] = []
        var context: ChannelHandlerContext?

        func handlerAdded(context: ChannelHandlerContext) { self.context = context }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { parts.append(unwrapInboundIn(data)) }

        func answer(status: HTTPResponse.Status) {
            context?.write(wrapOutboundOut(.head(HTTPResponse(status: status))), promise: nil)
            context?.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    /// Counts the flushes that reach the connection.
    final class FlushCounter: ChannelOutboundHandler {
        typealias OutboundIn = HTTPResponsePart
        var flushes = 0
        func flush(context: ChannelHandlerContext) {
            flushes += 1
            context.flush()
        }
    }

    struct Fixture {
        let provider: Provider
        let secret: String
        let channel: EmbeddedChannel
        let router: Router
        let flushes = FlushCounter()
        let grant: Provider.GrantRecord

        init(faults: Provider.Faults = Provider.Faults(), settings: Provider.Settings = Provider.Settings()) throws {
            secret = Provider.token()
            provider = Provider(
                client: Provider.Client(id: "sandbox-client", secrets: [Provider.ClientSecret(value: secret)]),
                settings: settings, faults: faults)
            grant = provider.seed(count: 1)[0]
            router = Router()
            channel = EmbeddedChannel()
            try channel.pipeline.syncOperations.addHandlers([flushes, InlineEndpoints(provider: provider), router])
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        }

        func send(_ path: String, method: HTTPRequest.Method = .post, form: String, close: Bool = false) throws {
            var head = HTTPRequest(method: method, scheme: nil, authority: "127.0.0.1", path: path)
            if close { head.headerFields[.connection] = "close" }
            try channel.writeInbound(HTTPRequestPart.head(head))
            // The form in two pieces, as a body may arrive.
            let bytes = Array(form.utf8)
            let half = bytes.count / 2
            try channel.writeInbound(HTTPRequestPart.body(ByteBuffer(bytes: bytes[..<half])))
            try channel.writeInbound(HTTPRequestPart.body(ByteBuffer(bytes: bytes[half...])))
            try channel.writeInbound(HTTPRequestPart.end(nil))
        }

        func refreshForm() -> String {
            "grant_type=refresh_token&client_id=sandbox-client&client_secret=\(secret)&refresh_token=\(grant.refreshToken)"
        }

        /// The answers written to the connection: status, headers, body.
        func answers() throws -> [(HTTPResponse, String)] {
            var answers: [(HTTPResponse, String)] = []
            var head: HTTPResponse?
            var body = ""
            while let part = try channel.readOutbound(as: HTTPResponsePart.self) {
                switch part {
                case .head(let response): head = response
                case .body(let buffer): body += String(buffer: buffer)
                case .end:
                    if let head { answers.append((head, body)) }
                    head = nil
                    body = ""
                }
            }
            return answers
        }
    }

    @Test func aRefreshIsAnsweredOnTheEventLoopInOneFlush() throws {
        let fixture = try Fixture()
        try fixture.send(Paths.token, form: fixture.refreshForm())
        let answers = try fixture.answers()
        try #require(answers.count == 1)
        let (head, body) = answers[0]
        #expect(head.status == .ok)
        #expect(head.headerFields[.contentType] == "application/json")
        #expect(head.headerFields[.contentLength] == String(body.utf8.count))
        #expect(body.contains("\"access_token\":\"") && body.contains("\"token_type\":\"Bearer\""))
        #expect(fixture.router.parts.isEmpty)
        #expect(fixture.provider.statistics.refreshesSucceeded == 1)
        #expect(fixture.flushes.flushes == 1)
        #expect(fixture.channel.isActive)
    }

    @Test func theInlineAnswerIsTheRoutersAnswer() throws {
        let fixture = try Fixture()
        let form = "grant_type=refresh_token&client_id=sandbox-client&client_secret=wrong&refresh_token=x"
        try fixture.send(Paths.token, form: form)
        let (head, body) = try #require(try fixture.answers().first)
        let routed = fixture.provider.tokenAnswer(TokenParameters.decodeForm(form))
        #expect(head.status.code == routed.status && head.status.code == 401)
        #expect(body == routed.body)
        #expect(head.headerFields[.contentType] == routed.contentType)
    }

    /// Over real connections: the same request answered inline (a POST of the form) and by the router (a
    /// GET with the form as its query, which the inline path never takes) gets the same status, type and
    /// body, and both reach the provider.
    @Test func overTheWireTheInlinePathAndTheRouterAnswerAlike() async throws {
        try await InProcessSandbox.run { sandbox in
            let transport = AsyncHTTPTransport(connectionsPerHost: 1, logger: Vault.silentLogger)
            func both(_ form: String) async throws -> (HTTPResult, HTTPResult) {
                let inline = try await transport.send(
                    HTTPExchange(
                        method: "POST", url: sandbox.url + Paths.token,
                        headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array(form.utf8)))
                let routed = try await transport.send(
                    HTTPExchange(method: "GET", url: sandbox.url + Paths.token + "?" + form))
                return (inline, routed)
            }
            let refused = "grant_type=refresh_token&client_id=sandbox-client&client_secret=wrong&refresh_token=x"
            let (inline, routed) = try await both(refused)
            #expect(inline.status == 401 && routed.status == 401)
            #expect(inline.body == routed.body)
            #expect(inline.header("Content-Type") == routed.header("Content-Type"))
            #expect(inline.header("Content-Length") == String(inline.body.count))

            let grants = sandbox.provider.seed(count: 2)
            let form = { (grant: Provider.GrantRecord) in
                "grant_type=refresh_token&client_id=sandbox-client&client_secret=\(sandbox.clientSecret)"
                    + "&refresh_token=\(grant.refreshToken)"
            }
            let fresh = try await transport.send(
                HTTPExchange(
                    method: "POST", url: sandbox.url + Paths.token,
                    headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array(form(grants[0]).utf8))
            )
            let viaRouter = try await transport.send(
                HTTPExchange(method: "GET", url: sandbox.url + Paths.token + "?" + form(grants[1])))
            let keys = { (result: HTTPResult) in
                Set(
                    String(decoding: result.body, as: UTF8.self).split(separator: ",").map {
                        String($0.split(separator: ":")[0].filter { $0 != "{" && $0 != "\"" })
                    })
            }
            #expect(fresh.status == 200 && viaRouter.status == 200)
            #expect(keys(fresh) == keys(viaRouter))
            #expect(keys(fresh) == ["access_token", "expires_in", "refresh_token", "token_type"])
            #expect(fresh.header("Content-Type") == viaRouter.header("Content-Type"))
            #expect(sandbox.provider.statistics.refreshesSucceeded == 2)
            #expect(sandbox.provider.statistics.invalidClient == 2)
            await transport.shutdown()
        }
    }

    @Test func aRevocationIsAnsweredOnTheEventLoop() throws {
        let fixture = try Fixture()
        try fixture.send(
            Paths.revoke,
            form: "token=\(fixture.grant.refreshToken)&client_id=sandbox-client&client_secret=\(fixture.secret)")
        let (head, body) = try #require(try fixture.answers().first)
        #expect(head.status == .ok && body.isEmpty && head.headerFields[.contentLength] == "0")
        #expect(fixture.provider.revocations.map(\.kind) == ["refresh_token"])
        #expect(fixture.router.parts.isEmpty)
    }

    @Test func otherRequestsReachTheRouterWhole() throws {
        let fixture = try Fixture()
        try fixture.send(Paths.token, method: .get, form: "a=b")
        try fixture.send(Paths.token + "?grant_type=refresh_token", form: fixture.refreshForm())
        try fixture.send("/admin/stats", form: "")
        #expect(try fixture.answers().isEmpty)
        #expect(fixture.router.parts.filter { if case .head = $0 { true } else { false } }.count == 3)
        #expect(fixture.router.parts.filter { if case .end = $0 { true } else { false } }.count == 3)
        #expect(fixture.provider.statistics.tokenRequests == 0)
    }

    @Test func aRequestBehindOneTheRouterHoldsWaitsItsTurn() throws {
        let fixture = try Fixture()
        try fixture.send("/admin/stats", method: .get, form: "")
        // Pipelined behind it: answered here it would overtake the router's answer, so it goes there too.
        try fixture.send(Paths.token, form: fixture.refreshForm())
        #expect(try fixture.answers().isEmpty)
        #expect(fixture.router.parts.count == 8)
        fixture.router.answer(status: .ok)
        fixture.router.answer(status: .ok)
        #expect(try fixture.answers().count == 2)
        // Both answered: the next is the handler's again.
        try fixture.send(Paths.token, form: fixture.refreshForm())
        #expect(try fixture.answers().count == 1)
        #expect(fixture.router.parts.count == 8)
    }

    @Test func aFormOverTheLimitGoesToTheRouterWithEveryByte() throws {
        let fixture = try Fixture()
        let form = "grant_type=refresh_token&padding=" + String(repeating: "x", count: TokenParameters.bodyLimit)
        try fixture.send(Paths.token, form: form)
        #expect(try fixture.answers().isEmpty)
        let bytes = fixture.router.parts.reduce(into: 0) { total, part in
            if case .body(let buffer) = part { total += buffer.readableBytes }
        }
        #expect(bytes == form.utf8.count)
        #expect(fixture.router.parts.count >= 3)
    }

    @Test(arguments: [
        Provider.Faults(serverErrorRate: 1), Provider.Faults(dropRate: 0.5), Provider.Faults(latencyMilliseconds: 5),
        Provider.Faults(rateLimitRate: 0.1), Provider.Faults(error200Rate: 1),
    ])
    func aSwitchedOnFaultLeavesTheRequestToTheRouter(_ faults: Provider.Faults) throws {
        let fixture = try Fixture(faults: faults)
        try fixture.send(Paths.token, form: fixture.refreshForm())
        #expect(try fixture.answers().isEmpty)
        #expect(fixture.provider.statistics.tokenRequests == 0)
        let body = fixture.router.parts.compactMap {
            if case .body(let buffer) = $0 { String(buffer: buffer) } else { nil }
        }
        #expect(body.joined() == fixture.refreshForm())
    }

    @Test func aHoldLeavesTheRequestToTheRouter() throws {
        var faults = Provider.Faults()
        faults.holdAfter = 1
        let fixture = try Fixture(faults: faults)
        try fixture.send(Paths.token, form: fixture.refreshForm())
        #expect(try fixture.answers().isEmpty)
        #expect(!fixture.router.parts.isEmpty)
    }

    @Test func theRateLimitIsKeptHere() throws {
        let fixture = try Fixture(settings: Provider.Settings(rateLimit: 1))
        try fixture.send(Paths.token, form: fixture.refreshForm())
        try fixture.send(Paths.token, form: fixture.refreshForm())
        let answers = try fixture.answers()
        #expect(answers.map(\.0.status.code) == [200, 429])
        #expect(answers[1].0.headerFields[Answer.retryAfterField] == "1")
        #expect(fixture.provider.statistics.rateLimited == 1)
    }

    @Test func connectionCloseClosesAfterTheAnswer() throws {
        let fixture = try Fixture()
        try fixture.send(Paths.token, form: fixture.refreshForm(), close: true)
        #expect(try fixture.answers().count == 1)
        #expect(!fixture.channel.isActive)
    }
}
