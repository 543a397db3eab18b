import ArgumentParser
import UPVault
import UPVaultSandbox

#if canImport(Glibc)
import Glibc
#endif

/// `upvault-sandbox admin URL SWITCH [key=value ...]`: flips a switch of a running sandbox (the same
/// as a request to its /admin endpoint), so scripts and the README need no HTTP client of their own.
struct Admin: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Call a running sandbox's admin endpoint and print its JSON answer.",
        discussion: """
            SWITCH is one of client, stats, revocations (read), rotate-secret, end-grace, \
            invalidate-access-tokens, expire-access-tokens, revoke, settings, faults, seed, device. Parameters go as key=value, for example \
            'admin http://127.0.0.1:8080 rotate-secret grace=1209600'.
            """)

    @Argument(help: "The sandbox's URL, as it printed it (http://127.0.0.1:PORT).") var url: String
    @Argument(help: "The switch.") var name: String
    @Argument(help: "Parameters, key=value.") var parameters: [String] = []
    @Option(
        help: ArgumentHelp(
            "The admin token file the sandbox wrote (default: where 'serve' writes it for this port).",
            valueName: "path"))
    var adminTokenFile: String?

    func run() throws {
        guard url.hasPrefix("http://127.0.0.1:") || url.hasPrefix("http://localhost:"),
            let port = UInt16(url.split(separator: ":").last.map { $0.prefix { $0.isNumber } } ?? "")
        else { throw ValidationError("the sandbox URL must be http://127.0.0.1:PORT") }
        guard name.allSatisfy({ $0.isLetter || $0 == "-" }) else { throw ValidationError("unknown switch \(name)") }
        let query = parameters.map {
            Form.escape(String($0.prefix { $0 != "=" })) + "=" + Form.escape(String($0.drop { $0 != "=" }.dropFirst()))
        }
        let method = ["client", "stats", "revocations"].contains(name) ? "GET" : "POST"
        let target = "/admin/\(name)" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        guard
            let tokenPath = adminTokenFile
                ?? AdminToken.defaultPath(port: Int(port), environment: Vault.processEnvironment())
        else { throw ValidationError("no admin token file: pass --admin-token-file") }
        let token = try AdminToken.read(from: tokenPath)
        let (status, body) = try LoopbackHTTP.request(method: method, port: port, target: target, token: token)
        writeLine(body, to: 1)
        if status != 200 { throw ExitCode(1) }
    }
}

/// HTTP/1.1 over a loopback TCP socket, one request, `Connection: close`.
enum LoopbackHTTP {
    static func request(method: String, port: UInt16, target: String, token: String) throws -> (Int, String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw AdminFailure("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw AdminFailure("nothing listens on 127.0.0.1:\(port)") }
        let head =
            "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\(AdminToken.headerName): \(token)\r\n"
            + "Content-Length: 0\r\nConnection: close\r\n\r\n"
        _ = Array(head.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while response.count < 256 << 20 {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            response += buffer.prefix(count)
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.firstRange(of: "\r\n\r\n") else { throw AdminFailure("not an HTTP answer") }
        let statusLine = text[..<split.lowerBound].prefix { $0 != "\r" }
        let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 0
        return (status, String(text[split.upperBound...]))
    }
}

struct AdminFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
