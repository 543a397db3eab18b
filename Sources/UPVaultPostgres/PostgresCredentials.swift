import UPVault

/// The password for a connection, the way libpq finds it: `PGPASSWORD`, else the first matching line
/// of the passfile (`PGPASSFILE`, else `~/.pgpass`), which must be a regular file of this user's that
/// no one else can read (mode 0600); nil when neither has one (a server that needs no password).
///
/// A passfile line is `host:port:database:user:password`; each of the first four fields may be `*`;
/// `\:` and `\\` escape a colon and a backslash. For a Unix socket, the host field is the socket directory.
enum PostgresCredentials {
    static let maximumPassfileByteCount = 1 << 16

    static func password(for location: PostgresLocation, environment: [String: String]) throws -> String? {
        if let password = environment["PGPASSWORD"], !password.isEmpty { return password }
        let path: String
        if let given = environment["PGPASSFILE"], !given.isEmpty {
            path = given
        } else if let home = environment["HOME"], home.hasPrefix("/") {
            path = home + "/.pgpass"
        } else {
            return nil
        }
        guard var bytes = try readPassfile(path) else { return nil }
        let password = match(passfile: bytes, location: location)
        for index in bytes.indices { bytes[index] = 0 }
        return password
    }

    /// The passfile's bytes; nil when there is none (no passfile is no password).
    private static func readPassfile(_ path: String) throws(VaultError) -> [UInt8]? {
        do {
            return try FileSystem.readOwnerOnlyFile(path, maximum: maximumPassfileByteCount)
        } catch .io(_, _, let code) where code == 2 {  // ENOENT
            return nil
        }
    }

    /// The password of the first line that matches `location`, or nil.
    static func match(passfile: [UInt8], location: PostgresLocation) -> String? {
        let (host, port) = location.passfileHost
        let wanted = [host, String(port), location.database, location.user]
        for line in passfile.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            var line = line[...]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if line.first == UInt8(ascii: "#") { continue }
            guard let fields = fields(of: line), fields.count == 5 else { continue }
            let matches = zip(fields.prefix(4), wanted).allSatisfy { field, value in field == "*" || field == value }
            if matches { return fields[4] }
        }
        return nil
    }

    /// The colon-separated fields of one line, unescaped; nil when the line is not UTF-8.
    static func fields(of line: ArraySlice<UInt8>) -> [String]? {
        var fields: [String] = []
        var current: [UInt8] = []
        var escaped = false
        for byte in line {
            if escaped {
                current.append(byte)
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: ":") && fields.count < 4 {
                guard let field = String(validating: current, as: UTF8.self) else { return nil }
                fields.append(field)
                current = []
            } else {
                current.append(byte)
            }
        }
        guard let last = String(validating: current, as: UTF8.self) else { return nil }
        fields.append(last)
        return fields
    }
}
