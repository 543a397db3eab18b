import UPVault

/// Where a vault in PostgreSQL lives: a server (a Unix socket directory, or a host and port), a
/// database, a role, and the schema that holds the vault's tables.
///
/// Written as a URL, `postgres://[USER@][HOST][:PORT]/[DATABASE][?host=SOCKETDIR&schema=NAME&sslmode=MODE]`
/// (`postgresql://` too). Whatever the URL leaves out comes from libpq's environment (`PGHOST`,
/// `PGPORT`, `PGUSER`, `PGDATABASE`, `PGSSLMODE`), then libpq's defaults (the socket directory
/// `/var/run/postgresql`, port 5432, the login name). A password in the URL is refused: it comes from
/// `PGPASSWORD` or a passfile (`PostgresCredentials`).
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public enum Server: Sendable, Equatable {
        /// A Unix socket in this directory (`.s.PGSQL.PORT`).
        case socket(directory: String, port: Int)
        case tcp(host: String, port: Int)
    }

    /// TLS for TCP connections (libpq's sslmode). Unix sockets never use TLS.
    public enum TLSMode: String, Sendable, Equatable {
        /// No TLS: only for a server on this machine or a network you trust.
        case disable
        /// TLS, the server's certificate not checked (protects against listeners, not against an impostor).
        case require
        /// TLS, the certificate checked against the system's trust roots and the host name.
        case verifyFull = "verify-full"
    }

    public var server: Server
    public var user: String
    public var database: String
    /// The schema of the vault's tables (default `upvault`): one vault per schema.
    public var schema: String
    public var tls: TLSMode

    public static let defaultSchema = "upvault"
    public static let defaultSocketDirectory = "/var/run/postgresql"

    /// Whether `text` names a PostgreSQL vault rather than a file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    public init(server: Server, user: String, database: String, schema: String = defaultSchema, tls: TLSMode) {
        self.server = server
        self.user = user
        self.database = database
        self.schema = schema
        self.tls = tls
    }

    /// Parses a vault URL, filling what it leaves out from `environment` (libpq's variables).
    public init(url: String, environment: [String: String]) throws(PostgresStoreError) {
        guard Self.isURL(url) else { throw .invalidURL("it must start with postgres:// or postgresql://") }
        guard url.utf8.count <= 2048 else { throw .invalidURL("longer than 2048 bytes") }
        var rest = url.hasPrefix("postgres://") ? url.dropFirst(11) : url.dropFirst(13)
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        guard !rest.contains("#") && !query.contains("#") else { throw .invalidURL("a fragment (#) is not allowed") }
        let authority: Substring
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        } else {
            authority = rest
        }
        var userPart: Substring? = nil
        var hostPart = authority
        if let at = authority.lastIndex(of: "@") {
            userPart = authority[..<at]
            hostPart = authority[authority.index(after: at)...]
        }
        if let userPart, userPart.contains(":") { throw .passwordInURL }
        var parameters: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw .invalidURL("query parameter '\(pair)' has no value") }
            let name = try Self.decode(parts[0])
            guard ["host", "port", "user", "dbname", "schema", "sslmode"].contains(name) else {
                if name == "password" { throw .passwordInURL }
                throw .invalidURL("unknown parameter '\(name)' (host, port, user, dbname, schema, sslmode)")
            }
            guard parameters[name] == nil else { throw .invalidURL("parameter '\(name)' given twice") }
            parameters[name] = try Self.decode(parts[1])
        }

        var host: String? = nil
        var portText: String? = nil
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { throw .invalidURL("unclosed [ in the host") }
            host = String(hostPart[hostPart.index(after: hostPart.startIndex)..<close])
            let after = hostPart[hostPart.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalidURL("unexpected text after the host") }
                portText = String(after.dropFirst())
            }
        } else if let colon = hostPart.firstIndex(of: ":") {
            host = try Self.decode(hostPart[..<colon])
            portText = String(hostPart[hostPart.index(after: colon)...])
        } else if !hostPart.isEmpty {
            host = try Self.decode(hostPart)
        }
        if host?.isEmpty == true { host = nil }
        if let given = parameters["host"] {
            guard host == nil else { throw .invalidURL("the host is given twice") }
            host = given
        }
        if let given = parameters["port"] {
            guard portText == nil else { throw .invalidURL("the port is given twice") }
            portText = given
        }
        host = host ?? environment["PGHOST"].flatMap { $0.isEmpty ? nil : $0 }
        portText = portText ?? environment["PGPORT"].flatMap { $0.isEmpty ? nil : $0 }
        let port: Int
        if let portText {
            guard let parsed = Int(portText), (1...65535).contains(parsed) else {
                throw .invalidURL("port '\(portText)' is not a number from 1 to 65535")
            }
            port = parsed
        } else {
            port = 5432
        }

        var user: String? = nil
        if let userPart { user = try Self.decode(userPart) }
        if let given = parameters["user"] {
            guard user == nil else { throw .invalidURL("the user is given twice") }
            user = given
        }
        user = user ?? environment["PGUSER"] ?? environment["USER"] ?? environment["LOGNAME"]
        guard let user, !user.isEmpty else { throw .invalidURL("no user (give USER@ in the URL, or PGUSER)") }

        var database = path.isEmpty ? nil : try Self.decode(path)
        if let given = parameters["dbname"] {
            guard database == nil else { throw .invalidURL("the database is given twice") }
            database = given
        }
        database = database ?? environment["PGDATABASE"].flatMap { $0.isEmpty ? nil : $0 } ?? user

        let schema = parameters["schema"] ?? Self.defaultSchema
        guard Self.isPlainIdentifier(schema) else {
            throw .invalidURL("schema '\(schema)' must be 1 to 63 of a-z, 0-9 and _, not starting with a digit")
        }

        let server: Server
        let hostName = host ?? Self.defaultSocketDirectory
        if hostName.hasPrefix("/") {
            server = .socket(directory: hostName, port: port)
        } else {
            guard hostName.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }) else {
                throw .invalidURL("the host name holds characters a host name cannot")
            }
            server = .tcp(host: hostName, port: port)
        }
        let mode = parameters["sslmode"] ?? environment["PGSSLMODE"]
        var tls: TLSMode
        switch mode {
        case nil, "prefer", "allow":
            // libpq's default tries TLS and falls back to none; a vault does not fall back. Loopback and
            // sockets need none; any other host gets a checked certificate unless the URL says otherwise.
            if case .tcp(let host, _) = server, !Self.isLoopback(host) { tls = .verifyFull } else { tls = .disable }
        case "disable": tls = .disable
        case "require", "verify-ca": tls = .require
        case "verify-full": tls = .verifyFull
        case .some(let other):
            throw .invalidURL("sslmode '\(other)' is not one of disable, require, verify-ca, verify-full")
        }
        if case .socket = server { tls = .disable }
        self.init(server: server, user: user, database: database!, schema: schema, tls: tls)
    }

    /// The URL again, with everything filled in (what messages and `path` show).
    public var description: String {
        let user = Self.encode(self.user)
        let database = Self.encode(self.database)
        switch server {
        case .socket(let directory, let port):
            let portPart = port == 5432 ? "" : "&port=\(port)"
            return "postgres://\(user)@/\(database)?host=\(Self.encode(directory))\(portPart)&schema=\(schema)"
        case .tcp(let host, let port):
            let hostPart = host.contains(":") ? "[\(host)]" : host
            return "postgres://\(user)@\(hostPart):\(port)/\(database)?schema=\(schema)&sslmode=\(tls.rawValue)"
        }
    }

    /// The server as libpq's passfile names it: the socket directory or the host name, and the port.
    var passfileHost: (host: String, port: Int) {
        switch server {
        case .socket(let directory, let port): (directory, port)
        case .tcp(let host, let port): (host, port)
        }
    }

    static func isPlainIdentifier(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count), !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[0]) else {
            return false
        }
        return bytes.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_")
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Percent-decoding; a malformed escape or a decoded control character is an error.
    static func decode(_ text: Substring) throws(PostgresStoreError) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%") {
                guard iterator.count >= 2, let high = Hex.value(of: iterator.popFirst()!),
                    let low = Hex.value(of: iterator.popFirst()!)
                else { throw .invalidURL("malformed %-escape") }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        guard let string = String(validating: bytes, as: UTF8.self), !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F })
        else { throw .invalidURL("an escaped part is not printable UTF-8") }
        return string
    }

    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let plain =
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || "-._~/".utf8.contains(byte)
            if plain {
                out.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                let digits = Hex.uppercaseDigits
                out += "%" + String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]], as: UTF8.self)
            }
        }
        return out
    }
}
