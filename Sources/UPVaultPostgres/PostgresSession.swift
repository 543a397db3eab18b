import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization

/// The connections of one vault handle: opened on demand, kept idle for reuse, each used by one caller at
/// a time. Calls block the calling thread until the server answers (the store's API is synchronous, as
/// the file vault's is); the answers arrive on SwiftNIO's event loops, never on the caller's thread, so a
/// caller on any thread, a Swift concurrency one included, cannot deadlock them.
final class PostgresSession: Sendable {
    let location: PostgresLocation
    let logger: Logger
    private let configuration: PostgresConnection.Configuration
    private let idle = Mutex<[PostgresConnection]>([])
    private let nextID = Atomic<Int>(1)
    static let maximumIdle = 64

    init(location: PostgresLocation, password: String?, logger: Logger) throws(PostgresStoreError) {
        self.location = location
        self.logger = logger
        var configuration: PostgresConnection.Configuration
        switch location.server {
        case .socket(let directory, let port):
            configuration = PostgresConnection.Configuration(
                unixSocketPath: directory + "/.s.PGSQL.\(port)", username: location.user, password: password,
                database: location.database)
        case .tcp(let host, let port):
            let tls: PostgresConnection.Configuration.TLS
            switch location.tls {
            case .disable: tls = .disable
            case .require, .verifyFull:
                var settings = TLSConfiguration.makeClientConfiguration()
                if location.tls == .require { settings.certificateVerification = .none }
                do {
                    tls = .require(try NIOSSLContext(configuration: settings))
                } catch {
                    throw .connectionFailed(server: location.description, reason: "TLS set-up failed: \(error)")
                }
            }
            configuration = PostgresConnection.Configuration(
                host: host, port: port, username: location.user, password: password, database: location.database,
                tls: tls)
            if location.tls == .verifyFull { configuration.options.tlsServerName = host }
        }
        configuration.options.connectTimeout = .seconds(10)
        self.configuration = configuration
    }

    deinit {
        for connection in idle.withLock({ $0 }) { Self.close(connection) }
    }

    /// Closes a connection, keeping it alive until it is closed (PostgresNIO requires that).
    static func close(_ connection: PostgresConnection) {
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// Runs `body` on a connection of its own: an idle one, or a new one. The connection goes back to
    /// the idle list afterwards unless it broke (or `body` left a transaction open, which it never does).
    func withConnection<R>(_ body: (PostgresLink) throws -> R) throws -> R {
        let connection = try acquire()
        let link = PostgresLink(connection: connection, session: self)
        do {
            let result = try body(link)
            release(connection)
            return result
        } catch {
            if link.inTransaction { _ = try? link.execute("ROLLBACK") }
            release(connection)
            throw error
        }
    }

    func acquire() throws(PostgresStoreError) -> PostgresConnection {
        while let connection = idle.withLock({ $0.popLast() }) {
            if !connection.isClosed { return connection }
        }
        let id = nextID.add(1, ordering: .relaxed).oldValue
        do {
            return try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: id, logger: logger
            ).wait()
        } catch {
            throw .connectionFailed(server: location.description, reason: Self.reason(error))
        }
    }

    func release(_ connection: PostgresConnection) {
        guard !connection.isClosed else { return }
        let kept = idle.withLock { list in
            guard list.count < Self.maximumIdle else { return false }
            list.append(connection)
            return true
        }
        if !kept { Self.close(connection) }
    }

    /// What went wrong, in words that hold no query parameter (the library's own description may).
    static func reason(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(type(of: error))" }
        if error.code == .authMechanismRequiresPassword {
            return "the server asks for a password and there is none (PGPASSWORD, or a line for this server in the "
                + "passfile PGPASSFILE or ~/.pgpass)"
        }
        if let message = error.serverInfo?[.message] {
            return message + (error.serverInfo?[.sqlState].map { " (\($0))" } ?? "")
        }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }
}

/// One connection in use: statements run and wait for their answer.
final class PostgresLink {
    let connection: PostgresConnection
    unowned let session: PostgresSession
    var inTransaction = false

    init(connection: PostgresConnection, session: PostgresSession) {
        self.connection = connection
        self.session = session
    }

    /// Runs one statement and returns its rows.
    @discardableResult
    func query(_ query: PostgresQuery) throws(PostgresStoreError) -> PostgresQueryResult {
        do {
            return try connection.query(query, logger: session.logger).wait()
        } catch {
            throw map(error)
        }
    }

    /// `query`, awaiting the answer instead of blocking (for callers that hold a connection across awaits).
    @discardableResult
    func queryAsync(_ query: PostgresQuery) async throws(PostgresStoreError) -> PostgresQueryResult {
        do {
            return try await connection.query(query, logger: session.logger).get()
        } catch {
            throw map(error)
        }
    }

    /// Runs one statement and returns how many rows it changed.
    @discardableResult
    func execute(_ query: PostgresQuery) throws(PostgresStoreError) -> Int {
        try self.query(query).metadata.rows ?? 0
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    func transaction<R>(_ body: () throws -> R) throws -> R {
        try execute("BEGIN")
        inTransaction = true
        do {
            let result = try body()
            inTransaction = false
            try execute("COMMIT")
            return result
        } catch {
            if inTransaction {
                _ = try? execute("ROLLBACK")
                inTransaction = false
            }
            throw error
        }
    }

    private func map(_ error: any Error) -> PostgresStoreError {
        guard let error = error as? PSQLError else {
            return .connectionLost(server: session.location.description)
        }
        switch error.code {
        case .server:
            return .server(
                sqlState: error.serverInfo?[.sqlState] ?? "?????", message: error.serverInfo?[.message] ?? "no message")
        default:
            return .connectionLost(server: session.location.description)
        }
    }
}

extension PostgresQueryResult {
    /// The rows as random-access rows.
    var randomAccessRows: [PostgresRandomAccessRow] { map { $0.makeRandomAccess() } }
}

extension PostgresCell {
    /// A bytea column's bytes.
    func bytes() throws -> [UInt8] {
        guard var buffer = try decode(ByteBuffer?.self) else { return [] }
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }
}

extension Array where Element == UInt8 {
    /// The bytes as a `bytea` parameter (an array of bytes alone would be sent as `"char"[]`).
    var bytea: ByteBuffer { ByteBuffer(bytes: self) }
}
