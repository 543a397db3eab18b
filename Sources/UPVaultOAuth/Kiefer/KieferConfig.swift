import FoundationEssentials
import UPVault

#if canImport(Glibc)
import Glibc
#endif

/// What can go wrong reading, importing or shredding a kiefer `config.json`. Messages never quote the
/// file's contents.
public enum KieferError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be opened or read (or is not a regular file).
    case unreadable(path: String, errno: Int32)
    /// Larger than any kiefer config (64 KiB).
    case tooLarge(path: String)
    /// Not a JSON object of the expected shape.
    case malformed(path: String, reason: String)
    /// A required member is missing or empty.
    case missingField(path: String, field: String)
    /// The vault already holds a grant for this app and user; `--replace` overwrites it.
    case grantExists(String)
    /// The vault already holds an app of this name with another client id.
    case appConflict(String)
    /// Overwriting or removing the plaintext file failed; it may still be on disk.
    case shredFailed(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .unreadable(let path, let code): "cannot read \(path): \(String(cString: strerror(code)))"
        case .tooLarge(let path): "\(path) is larger than 64 KiB: not a kiefer config"
        case .malformed(let path, let reason): "\(path) is not a kiefer config: \(reason)"
        case .missingField(let path, let field): "\(path) has no \(field)"
        case .grantExists(let name): "grant \(name) already exists (use --replace to overwrite it)"
        case .appConflict(let name): "app \(name) already exists with another client id"
        case .shredFailed(let path, let code):
            "could not overwrite and remove \(path): \(String(cString: strerror(code))); the plaintext file may still exist"
        }
    }
}

/// The JSON file kiefer read its credentials from: client credentials, and tokens pasted in by hand.
public struct KieferConfig: Codable, Sendable, Equatable {
    public var clientID: String
    public var clientSecret: String
    public var redirectURI: String
    public var scope: [String]
    public var accessToken: String?
    public var refreshToken: String?

    public init(
        clientID: String, clientSecret: String, redirectURI: String, scope: [String], accessToken: String? = nil,
        refreshToken: String? = nil
    ) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.redirectURI = redirectURI
        self.scope = scope
        self.accessToken = accessToken
        self.refreshToken = refreshToken
    }

    enum CodingKeys: String, CodingKey {
        case scope
        case clientID = "client_id"
        case clientSecret = "client_secret"
        case redirectURI = "redirect_uri"
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        clientID = try container.decodeIfPresent(String.self, forKey: .clientID) ?? ""
        clientSecret = try container.decodeIfPresent(String.self, forKey: .clientSecret) ?? ""
        redirectURI = try container.decodeIfPresent(String.self, forKey: .redirectURI) ?? ""
        // kiefer accepted a list or a space-separated string.
        if let list = try? container.decodeIfPresent([String].self, forKey: .scope) {
            scope = list
        } else if let text = try container.decodeIfPresent(String.self, forKey: .scope) {
            scope = text.split(separator: " ").map(String.init)
        } else {
            scope = []
        }
        accessToken = try container.decodeIfPresent(String.self, forKey: .accessToken).flatMap { $0.isEmpty ? nil : $0 }
        refreshToken = try container.decodeIfPresent(String.self, forKey: .refreshToken).flatMap {
            $0.isEmpty ? nil : $0
        }
    }

    static let maximumFileSize = 64 * 1024

    /// Reads and checks a kiefer config. `permissions` receives the file's mode, so the caller can warn
    /// when the secrets in it were readable by others.
    public static func read(path: String) throws(KieferError) -> (config: KieferConfig, mode: UInt32) {
        var bytes: [UInt8]
        let mode: UInt32
        do {
            let file = try PosixFile.open(path, flags: O_RDONLY | O_NOFOLLOW)
            let status = try file.status()
            guard status.isRegularFile else { throw KieferError.unreadable(path: path, errno: EINVAL) }
            mode = status.mode & 0o777
            bytes = try file.readAll(maximum: maximumFileSize)
        } catch let error as KieferError {
            throw error
        } catch VaultError.fileTooLarge {
            throw .tooLarge(path: path)
        } catch VaultError.io(_, _, let code) {
            throw .unreadable(path: path, errno: code)
        } catch VaultError.vaultNotFound {
            throw .unreadable(path: path, errno: ENOENT)
        } catch {
            throw .unreadable(path: path, errno: EIO)
        }
        defer { Sodium.wipe(&bytes) }
        return (try parse(bytes, path: path), mode)
    }

    public static func parse(_ bytes: [UInt8], path: String = "config") throws(KieferError) -> KieferConfig {
        let config: KieferConfig
        do {
            config = try JSONDecoder().decode(KieferConfig.self, from: Data(bytes))
        } catch {
            throw .malformed(path: path, reason: "not a JSON object with string members")
        }
        if config.clientID.isEmpty { throw .missingField(path: path, field: "client_id") }
        if config.clientSecret.isEmpty { throw .missingField(path: path, field: "client_secret") }
        if config.redirectURI.isEmpty { throw .missingField(path: path, field: "redirect_uri") }
        for token in [config.accessToken, config.refreshToken].compactMap({ $0 }) {
            guard token.utf8.count <= TokenResponse.maximumTokenLength,
                token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
            else {
                throw .malformed(path: path, reason: "a token holds spaces or control characters")
            }
        }
        return config
    }

    /// The config as kiefer reads it (pretty JSON, keys sorted).
    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(self)) ?? Data())
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(clientID, forKey: .clientID)
        try container.encode(clientSecret, forKey: .clientSecret)
        try container.encode(redirectURI, forKey: .redirectURI)
        try container.encode(scope, forKey: .scope)
        try container.encodeIfPresent(accessToken, forKey: .accessToken)
        try container.encodeIfPresent(refreshToken, forKey: .refreshToken)
    }
}
