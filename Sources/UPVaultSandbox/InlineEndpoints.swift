import HTTPTypes
public import HummingbirdCore
import NIOCore
import NIOHTTPTypes

extension HTTPServerBuilder {
    /// The sandbox's HTTP/1.1 server: Hummingbird's, with `InlineEndpoints` in each connection's pipeline.
    public static func sandbox(_ provider: Provider) -> HTTPServerBuilder {
        .http1(configuration: .init(additionalChannelHandlers: [InlineEndpoints(provider: provider)]))
    }
}

/// Answers the token and revocation endpoints' POSTs on the connection's event loop, the moment their
/// form is read, when no fault or hold is switched on (`Provider.answersAtOnce`): these are the requests
/// a bulk refresh or revocation sends by the hundred thousand, and the router's path (an async task per
/// request, two writes per answer) cost the sandbox as much CPU as the client it measures. Everything
/// else (other paths, GET, a query, a body over the limit, faults, holds) goes to the router, which
/// computes the same `Answer`s. Answers keep request order: a request is answered here only when every
/// request passed to the router before it has been answered.
final class InlineEndpoints: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    enum Endpoint {
        case token, revocation
    }

    private enum State {
        /// Between requests.
        case idle
        /// A POST to one of the endpoints, its form being read.
        case reading(Endpoint, HTTPRequest, ByteBuffer)
        /// A request passed on to the router, until its end.
        case passing
    }

    private let provider: Provider
    private var state = State.idle
    /// Requests passed to the router whose answers have not been written yet.
    private var routed = 0

    init(provider: Provider) {
        self.provider = provider
    }

    static func endpoint(method: HTTPRequest.Method, path: String?) -> Endpoint? {
        guard method == .post else { return nil }
        switch path {
        case Paths.token: return .token
        case Paths.revoke: return .revocation
        default: return nil
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (state, part) {
        case (.idle, .head(let head)):
            if routed == 0, let endpoint = Self.endpoint(method: head.method, path: head.path) {
                state = .reading(endpoint, head, context.channel.allocator.buffer(capacity: 512))
            } else {
                pass(head, body: nil, context: context)
                state = .passing
            }
        case (.reading(let endpoint, let head, var body), .body(let chunk)):
            state = .idle  // the state lets go of the buffer before it grows
            guard body.readableBytes + chunk.readableBytes <= TokenParameters.bodyLimit else {
                // Over the limit: the router refuses it as it would any.
                pass(head, body: body, context: context)
                state = .passing
                context.fireChannelRead(data)
                return
            }
            body.writeImmutableBuffer(chunk)
            state = .reading(endpoint, head, body)
        case (.reading(let endpoint, let head, let body), .end):
            state = .idle
            guard let answer = answer(endpoint, head: head, body: body) else {
                pass(head, body: body, context: context)  // a fault or a hold: the router's path can wait
                context.fireChannelRead(data)
                return
            }
            write(answer, context: context)
            if head.headerFields[.connection]?.lowercased() == "close" { context.close(promise: nil) }
        case (.passing, .end):
            state = .idle
            context.fireChannelRead(data)
        default:
            context.fireChannelRead(data)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { routed = max(0, routed - 1) }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .idle
        context.fireChannelInactive()
    }

    /// Hands a request's head (and the body read so far) to the router.
    private func pass(_ head: HTTPRequest, body: ByteBuffer?, context: ChannelHandlerContext) {
        routed += 1
        context.fireChannelRead(wrapInboundOut(.head(head)))
        if let body, body.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(.body(body))) }
    }

    /// The answer, or nil when the router must serve the request.
    private func answer(_ endpoint: Endpoint, head: HTTPRequest, body: ByteBuffer) -> Answer? {
        guard provider.answersAtOnce(revocation: endpoint == .revocation) else { return nil }
        if let limited = provider.admit() { return limited }
        let parameters = TokenParameters.read(
            query: nil, body: body, authorization: head.headerFields[.authorization])
        switch endpoint {
        case .token:
            return provider.tokenAnswer(parameters)
        case .revocation:
            switch provider.revocationRequest(parameters) {
            case .refuse(let answer): return answer
            case .revoke(let token, let client):
                provider.revoke(token: token, client: client)
                return .ok
            }
        }
    }

    /// Head, body and end in one flush: one system call.
    private func write(_ answer: Answer, context: ChannelHandlerContext) {
        var head = HTTPResponse(status: HTTPResponse.Status(code: answer.status))
        head.headerFields = answer.headerFields
        head.headerFields[.contentLength] = String(answer.body.utf8.count)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !answer.body.isEmpty {
            context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(string: answer.body))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
