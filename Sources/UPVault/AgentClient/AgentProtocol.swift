import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// The agent's wire format: each message is a 4-byte big-endian length and that many bytes of JSON.
/// A frame larger than `maximumFrameByteCount`, or one that does not decode, closes the connection.
package enum AgentFrame {
    /// A 1 MiB value base64-encoded, with room for the envelope.
    package static let maximumFrameByteCount = 2 << 20

    package static func write(_ payload: [UInt8], to fd: Int32) throws(AgentError) {
        guard payload.count <= maximumFrameByteCount else { throw .protocolViolation("frame too large") }
        let length = UInt32(payload.count).bigEndian
        var frame = withUnsafeBytes(of: length) { Array($0) }
        frame += payload
        var offset = 0
        while offset < frame.count {
            let sent = frame.withUnsafeBytes {
                send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 {
                if errno == EINTR { continue }
                throw .connectionLost(String(cString: strerror(errno)))
            }
            offset += sent
        }
    }

    /// The next frame's payload; nil at a clean end of stream (before any byte of a frame). The payload
    /// buffer grows as bytes arrive (a header announcing 2 MiB allocates nothing until they come). With
    /// `deadline`, the whole frame must arrive within it once its first byte has (the agent's guard
    /// against connections that trickle); the socket's own receive time-out bounds the wait for that
    /// first byte.
    package static func read(
        from fd: Int32, maximum: Int = maximumFrameByteCount, deadline: Duration? = nil
    ) throws(AgentError) -> [UInt8]? {
        var reader = FrameReader(fd: fd, deadline: deadline)
        guard let header = try reader.read(4, allowEnd: true) else { return nil }
        let length = Int(UInt32(header[0]) << 24 | UInt32(header[1]) << 16 | UInt32(header[2]) << 8 | UInt32(header[3]))
        guard length <= maximum else { throw .protocolViolation("frame of \(length) bytes is over the limit") }
        return try reader.read(length, allowEnd: false)
    }

    private struct FrameReader {
        let fd: Int32
        let deadline: Duration?
        var ends: ContinuousClock.Instant?

        init(fd: Int32, deadline: Duration?) {
            self.fd = fd
            self.deadline = deadline
        }

        /// `count` bytes, read in chunks of at most 64 KiB.
        mutating func read(_ count: Int, allowEnd: Bool) throws(AgentError) -> [UInt8]? {
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: min(count, 1 << 16))
            while bytes.count < count {
                try waitForData()
                let wanted = min(chunk.count, count - bytes.count)
                let received = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, wanted, 0) }
                if received < 0 {
                    if errno == EINTR { continue }
                    throw .connectionLost(errno == EAGAIN ? "timed out" : String(cString: strerror(errno)))
                }
                if received == 0 {
                    if bytes.isEmpty && allowEnd { return nil }
                    throw .connectionLost("closed mid-frame")
                }
                if ends == nil, let deadline { ends = ContinuousClock.now.advanced(by: deadline) }
                bytes += chunk[0..<received]
            }
            return bytes
        }

        /// Once a frame has begun, waits for more of it only until the frame's deadline.
        func waitForData() throws(AgentError) {
            guard let ends else { return }
            let left = ends - ContinuousClock.now
            let milliseconds = max(
                0, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            while true {
                let ready = poll(&poller, 1, Int32(min(milliseconds, Int64(Int32.max))))
                if ready < 0 && errno == EINTR { continue }
                if ready <= 0 { throw .connectionLost("the frame did not arrive in time") }
                return
            }
        }
    }

    package static func encode(_ value: some Encodable) throws(AgentError) -> [UInt8] {
        do {
            return Array(try JSONEncoder().encode(value))
        } catch {
            throw .protocolViolation("cannot encode \(type(of: value))")
        }
    }

    package static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws(AgentError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw .protocolViolation("not a valid \(T.self)")
        }
    }
}

/// A set of operations the agent performs, travelling under its own key in the envelope.
package protocol AgentOperations: Codable, Sendable {
    associatedtype Response: Codable & Sendable
    /// `request` for `AgentRequest`, `oauth` for UPVaultOAuth's `OAuthAgentRequest`.
    static var envelopeKey: String { get }
    /// The envelope's JSON written without JSONEncoder, for the requests scripts make in loops (see
    /// `AgentProtocol+FastJSON.swift`); nil: JSONEncoder writes it.
    func fastEnvelope(vault: String) -> [UInt8]?
    /// The `ok` answer read without JSONDecoder when it is the plain one; nil: JSONDecoder decides.
    static func fastResponse(_ answer: [UInt8]) -> Response?
}

/// A request as it crosses the wire: `{"vault": PATH, KEY: OPERATION}`. `vault` is the file the client
/// means (an agent serving another one refuses); KEY says which set the operation belongs to, so the
/// agent decodes a frame once, into exactly one operation.
package struct AgentEnvelope<Request: AgentOperations>: Encodable, Sendable {
    package var vault: String
    package var request: Request

    package init(vault: String, request: Request) {
        self.vault = vault
        self.request = request
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AgentEnvelopeKey.self)
        try container.encode(vault, forKey: AgentEnvelopeKey("vault"))
        try container.encode(request, forKey: AgentEnvelopeKey(Request.envelopeKey))
    }
}

/// The envelope's keys.
package struct AgentEnvelopeKey: CodingKey, Hashable {
    package var stringValue: String
    package var intValue: Int? { nil }
    package init(_ string: String) { stringValue = string }
    package init(stringValue: String) { self.stringValue = stringValue }
    package init?(intValue: Int) { nil }
}

/// The storage and session operations. Values travel as standard base64.
package enum AgentRequest: AgentOperations, Equatable {
    package typealias Response = AgentResponse

    /// One change of a `write`: a put (`value` set) or a delete.
    package struct Change: Codable, Sendable, Equatable {
        package var kind: UInt8
        package var name: String
        /// Base64 of the value; nil for a delete.
        package var value: String?
        /// The change's condition (`WriteCondition`): "absent", or the version "GENERATION.RECORD" the
        /// entry must still be at; nil for none.
        package var ifVersion: String?

        package init(kind: UInt8, name: String, value: String?, ifVersion: String? = nil) {
            self.kind = kind
            self.name = name
            self.value = value
            self.ifVersion = ifVersion
        }

        enum CodingKeys: String, CodingKey {
            case kind, name, value
            case ifVersion = "if_version"
        }
    }

    case status
    case lock
    /// New time-outs, in seconds from now; nil keeps one as it is.
    case extend(ttl: Int64?, idle: Int64?)
    case get(kind: UInt8, name: String)
    /// The value with its version (`EntryVersion`, as "GENERATION.RECORD"), for a conditional write.
    case getVersioned(kind: UInt8, name: String)
    /// The names of one kind, sorted, starting after `after` (nil: from the first); one page per answer.
    case names(kind: UInt8, after: String?)
    case contains(kind: UInt8, name: String)
    case write(changes: [Change])
    case lockOffset(kind: UInt8, name: String)
    /// Try once to take the entry's lock (a database vault's): `found(true)` when this connection now holds
    /// it, until `releaseLock` or until the connection closes; `found(false)` when another holder has it.
    /// One lock per connection.
    case holdLock(kind: UInt8, name: String)
    /// Let go of the lock this connection holds.
    case releaseLock
    case compact

    package static let envelopeKey = "request"
}

/// What the agent answers to an `AgentRequest`.
package enum AgentResponse: Codable, Sendable, Equatable {
    case done
    case status(AgentStatus)
    /// Base64 of the value, nil when there is no such entry.
    case value(base64: String?)
    /// Base64 of the value and its version; both nil when there is no such entry.
    case versioned(base64: String?, version: String?)
    /// A page of names; `more` when the next page starts after the last of these.
    case names([String], more: Bool)
    case found(Bool)
    case offset(Int64)
}

/// Why the agent did not do what was asked.
package struct AgentFailure: Codable, Sendable, Equatable, Error {
    package var category: FailureCategory
    package var message: String
    /// Set when the agent serves another vault: its path.
    package var otherVault: String?

    package init(category: FailureCategory, message: String, otherVault: String? = nil) {
        self.category = category
        self.message = message
        self.otherVault = otherVault
    }
}

/// Every answer: `{"ok": RESPONSE}` or `{"error": FAILURE}`.
package enum AgentReply<Response: Codable & Sendable>: Codable, Sendable {
    case ok(Response)
    case error(AgentFailure)

    enum CodingKeys: String, CodingKey { case ok, error }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .ok(let response): try container.encode(response, forKey: .ok)
        case .error(let failure): try container.encode(failure, forKey: .error)
        }
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let failure = try container.decodeIfPresent(AgentFailure.self, forKey: .error) {
            self = .error(failure)
        } else {
            self = .ok(try container.decode(Response.self, forKey: .ok))
        }
    }
}

/// The agent's state, for `upvault status`.
public struct AgentStatus: Codable, Sendable, Equatable {
    public var vault: String
    public var pid: Int32
    /// Unix seconds at which the agent locks whatever happens.
    public var expiresAt: Int64
    /// Unix seconds at which it locks if no request arrives before.
    public var idleExpiresAt: Int64
    /// The vault file's tail when it does not end in a seal (the agent serves the complete batches
    /// and never removes a tail on its own).
    public var tail: TornTail?

    package init(vault: String, pid: Int32, expiresAt: Int64, idleExpiresAt: Int64, tail: TornTail? = nil) {
        self.vault = vault
        self.pid = pid
        self.expiresAt = expiresAt
        self.idleExpiresAt = idleExpiresAt
        self.tail = tail
    }

    enum CodingKeys: String, CodingKey {
        case vault, pid, tail
        case expiresAt = "expires_at"
        case idleExpiresAt = "idle_expires_at"
    }
}
