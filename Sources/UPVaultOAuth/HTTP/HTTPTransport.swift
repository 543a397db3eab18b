import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// One HTTP exchange, as the flows see it. Bodies are bounded: a response larger than
/// `maximumResponseBytes` is an error, never a large allocation.
struct HTTPExchange: Sendable {
    var method: String
    var url: String
    var headers: [(String, String)]
    var body: [UInt8]?
    var maximumResponseBytes: Int
    var timeout: Duration

    init(
        method: String, url: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
        maximumResponseBytes: Int = 64 * 1024, timeout: Duration = .seconds(30)
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.maximumResponseBytes = maximumResponseBytes
        self.timeout = timeout
    }
}

struct HTTPResult: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// Where the flows send requests: async-http-client in production, a stub in unit tests.
protocol HTTPTransport: Sendable {
    func send(_ exchange: HTTPExchange) async throws(OAuthError) -> HTTPResult
    func shutdown() async
}

/// async-http-client, created on first use (so `upvault token` with a fresh token starts no event loop),
/// with redirects refused (a token endpoint that redirects is not followed with a secret in hand),
/// pooled keep-alive connections and connect/read time-outs.
final class AsyncHTTPTransport: HTTPTransport {
    private let client = Mutex<HTTPClient?>(nil)
    private let connectionsPerHost: Int
    private let logger: Logger

    init(connectionsPerHost: Int = 16, logger: Logger) {
        self.connectionsPerHost = connectionsPerHost
        self.logger = logger
    }

    private func httpClient() -> HTTPClient {
        client.withLock { client in
            if let client { return client }
            var configuration = HTTPClient.Configuration(
                redirectConfiguration: .disallow,
                timeout: .init(connect: .seconds(10), read: .seconds(30)))
            configuration.connectionPool = .init(
                idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connectionsPerHost)
            configuration.httpVersion = .http1Only
            // No tracer: with the default (a no-op tracer) async-http-client still builds every request's
            // span attributes, parsing its URL again: about a twentieth of a bulk refresh's CPU.
            configuration.tracing.tracer = nil
            let created = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            client = created
            return created
        }
    }

    func send(_ exchange: HTTPExchange) async throws(OAuthError) -> HTTPResult {
        var request = HTTPClientRequest(url: exchange.url)
        request.method = HTTPMethod(rawValue: exchange.method)
        for (name, value) in exchange.headers { request.headers.add(name: name, value: value) }
        request.headers.replaceOrAdd(name: "User-Agent", value: "upvault/0.1")
        if let body = exchange.body { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await httpClient().execute(request, timeout: TimeAmount(exchange.timeout))
            let status = Int(response.status.code)
            let headers = response.headers.map { ($0.name, $0.value) }
            let buffer: ByteBuffer
            do {
                buffer = try await response.body.collect(upTo: exchange.maximumResponseBytes)
            } catch is NIOTooManyBytesError {
                throw OAuthError.unexpectedResponse(
                    httpStatus: status, reason: "response larger than \(exchange.maximumResponseBytes) bytes")
            }
            logger.debug(
                "HTTP exchange",
                metadata: ["method": "\(exchange.method)", "host": "\(request.url.hostPart)", "status": "\(status)"])
            return HTTPResult(status: status, headers: headers, body: Array(buffer.readableBytesView))
        } catch let error as OAuthError {
            throw error
        } catch {
            throw .transport(Self.describe(error))
        }
    }

    func shutdown() async {
        let existing = client.withLock { client in
            defer { client = nil }
            return client
        }
        try? await existing?.shutdown()
    }

    /// Whether a `transport` failure with this reason happened before the request could leave (no
    /// connection was made), so the provider cannot have acted on it.
    static func neverSent(_ reason: String) -> Bool {
        reason == connectTimedOut || reason.hasPrefix(connectFailedPrefix)
    }

    static let connectTimedOut = "connection timed out"
    static let connectFailedPrefix = "connection failed ("

    /// A short reason that names no URL (URLs may carry query parameters).
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as HTTPClientError:
            switch error {
            case .connectTimeout: return connectTimedOut
            case .readTimeout, .deadlineExceeded: return "timed out waiting for the response"
            case .remoteConnectionClosed: return "the connection was closed before the response was complete"
            case .invalidURL, .emptyHost, .emptyScheme: return "invalid URL"
            default: return "HTTP client error"
            }
        case let error as NIOConnectionError:
            return connectFailedPrefix
                + "\(error.dnsAAAAError == nil && error.dnsAError == nil ? "refused or unreachable" : "name lookup failed"))"
        case is ChannelError:
            return "the connection failed"
        case is IOError:
            return "the connection failed (I/O error)"
        default:
            return "network error"
        }
    }
}

extension String {
    /// The host (and port) of a URL, for logs.
    fileprivate var hostPart: String {
        guard let schemeEnd = firstRange(of: "://") else { return "?" }
        let rest = self[schemeEnd.upperBound...]
        return String(rest.prefix { $0 != "/" && $0 != "?" })
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
