import FoundationEssentials
import NIOCore
import NIOHTTP1
import NIOPosix

/// A one-shot HTTP listener on a loopback address that receives the provider's redirect (RFC 8252
/// section 7.3): the browser is sent to `http://127.0.0.1:PORT/path?code=...&state=...`, the
/// listener answers with a short page and hands the full URL to the login.
public final class LoopbackListener: Sendable {
    /// The redirect URI to send in the authorization request (with the port actually bound).
    public let redirectURI: String
    private let channel: any Channel
    private let redirects: AsyncStream<String>

    private init(redirectURI: String, channel: any Channel, redirects: AsyncStream<String>) {
        self.redirectURI = redirectURI
        self.channel = channel
        self.redirects = redirects
    }

    /// Binds the host and port of `redirectURI`, which must be `http://` to a loopback address
    /// (a missing or zero port picks a free one).
    public static func start(redirectURI: String) async throws(OAuthError) -> LoopbackListener {
        let parsed = try ParsedURL(redirectURI)
        guard parsed.scheme == "http", EndpointPolicy.isLoopback(host: parsed.host) else {
            throw .invalidArgument(
                "--listen needs an app whose redirect URI is http://127.0.0.1[:PORT]/... (it is \(redirectURI))")
        }
        let host = parsed.host == "localhost" ? "127.0.0.1" : parsed.host.trimmingBrackets
        let path = parsed.components.path.isEmpty ? "/" : parsed.components.path
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingOldest(16))
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(
                        CallbackHandler(
                            host: parsed.host, path: path, port: channel.localAddress?.port ?? 0,
                            continuation: continuation))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: host, port: parsed.components.port ?? 0).get()
        } catch {
            throw .transport("cannot listen on \(host):\(parsed.components.port ?? 0)")
        }
        let port = channel.localAddress?.port ?? 0
        let hostPart = parsed.host.contains(":") && !parsed.host.hasPrefix("[") ? "[\(parsed.host)]" : parsed.host
        let actual = "http://\(hostPart):\(port)\(path)"
        return LoopbackListener(redirectURI: actual, channel: channel, redirects: stream)
    }

    /// The requests to the redirect path, as full URLs, in arrival order (at most 16 waiting).
    var redirectURLs: AsyncStream<String> { redirects }

    public func close() async {
        try? await channel.close()
    }
}

private final class CallbackHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let host: String
    let path: String
    let port: Int
    let continuation: AsyncStream<String>.Continuation
    private var uri: String?

    init(host: String, path: String, port: Int, continuation: AsyncStream<String>.Continuation) {
        self.host = host
        self.path = path
        self.port = port
        self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            uri = head.method == .GET ? head.uri : nil
        case .body:
            break
        case .end:
            let requested = uri ?? ""
            let matches = requested.prefix { $0 != "?" } == path
            let body =
                matches
                ? "<html><body><p>upvault received the authorization. You can close this window.</p></body></html>"
                : "<html><body><p>Not found.</p></body></html>"
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
            headers.add(name: "Content-Length", value: String(body.utf8.count))
            headers.add(name: "Connection", value: "close")
            headers.add(name: "Cache-Control", value: "no-store")
            headers.add(name: "Referrer-Policy", value: "no-referrer")
            let head = HTTPResponseHead(version: .http1_1, status: matches ? .ok : .notFound, headers: headers)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
            if matches {
                let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
                continuation.yield("http://\(hostPart):\(port)\(requested)")
            }
        }
    }
}

extension String {
    fileprivate var trimmingBrackets: String {
        hasPrefix("[") && hasSuffix("]") ? String(dropFirst().dropLast()) : self
    }
}
