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
            let sent = frame.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                if errno == EINTR { continue }
                throw .connectionLost(String(cString: strerror(errno)))
            }
            offset += sent
        }
    }

    /// The next frame's payload; nil at a clean end of stream (before any byte of a frame).
    package static func read(from fd: Int32, maximum: Int = maximumFrameByteCount) throws(AgentError) -> [UInt8]? {
        var header = [UInt8](repeating: 0, count: 4)
        guard try readExactly(&header, from: fd, allowEnd: true) else { return nil }
        let length = Int(UInt32(header[0]) << 24 | UInt32(header[1]) << 16 | UInt32(header[2]) << 8 | UInt32(header[3]))
        guard length <= maximum else { throw .protocolViolation("frame of \(length) bytes is over the limit") }
        var payload = [UInt8](repeating: 0, count: length)
        _ = try readExactly(&payload, from: fd, allowEnd: false)
        return payload
    }

    private static func readExactly(_ buffer: inout [UInt8], from fd: Int32, allowEnd: Bool) throws(AgentError) -> Bool {
        var offset = 0
        while offset < buffer.count {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + offset, $0.count - offset, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .connectionLost(errno == EAGAIN ? "timed out" : String(cString: strerror(errno)))
            }
            if count == 0 {
                if offset == 0 && allowEnd { return false }
                throw .connectionLost("closed mid-frame")
            }
            offset += count
        }
        return true
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

/// One request. `vault` names the file the client means; an agent serving another one refuses.
package struct AgentRequest: Codable, Sendable {
    package enum Operation: String, Codable, Sendable {
        case status, get, names, contains, write, token, lock, extend, compact
        case lockOffset = "lock_offset"
        case bulkRefresh = "bulk_refresh"
    }

    package struct Change: Codable, Sendable {
        package var kind: UInt8
        package var name: String
        /// Base64 of the value; nil for a delete.
        package var value: String?

        package init(kind: UInt8, name: String, value: String?) {
            self.kind = kind
            self.name = name
            self.value = value
        }
    }

    package var op: Operation
    package var vault: String
    package var kind: UInt8?
    package var name: String?
    package var changes: [Change]?
    package var app: String?
    package var user: String?
    /// Seconds.
    package var minValid: Int64?
    /// `token`: refresh now, whatever the expiry.
    package var force: Bool?
    package var ttl: Int64?
    package var idle: Int64?
    /// `bulk_refresh`: the options, as JSON the caller's flows understand.
    package var options: String?

    package init(op: Operation, vault: String) {
        self.op = op
        self.vault = vault
    }

    enum CodingKeys: String, CodingKey {
        case op, vault, kind, name, changes, app, user, ttl, idle, force, options
        case minValid = "min_valid"
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

    package init(vault: String, pid: Int32, expiresAt: Int64, idleExpiresAt: Int64) {
        self.vault = vault
        self.pid = pid
        self.expiresAt = expiresAt
        self.idleExpiresAt = idleExpiresAt
    }

    enum CodingKeys: String, CodingKey {
        case vault, pid
        case expiresAt = "expires_at"
        case idleExpiresAt = "idle_expires_at"
    }
}

package struct AgentResponse: Codable, Sendable {
    package struct Failure: Codable, Sendable {
        package var message: String
        package var exitCode: Int32
        /// `other_vault`, `bad_request`, or the failing concern (`vault`, `oauth`).
        package var code: String

        package init(message: String, exitCode: Int32, code: String) {
            self.message = message
            self.exitCode = exitCode
            self.code = code
        }

        enum CodingKeys: String, CodingKey {
            case message, code
            case exitCode = "exit_code"
        }
    }

    package var ok: Bool
    package var value: String?
    package var found: Bool?
    package var names: [String]?
    package var offset: Int64?
    package var status: AgentStatus?
    package var error: Failure?

    package init(ok: Bool = true) {
        self.ok = ok
    }

    package static func failure(_ message: String, exitCode: Int32, code: String) -> AgentResponse {
        var response = AgentResponse(ok: false)
        response.error = Failure(message: message, exitCode: exitCode, code: code)
        return response
    }
}
