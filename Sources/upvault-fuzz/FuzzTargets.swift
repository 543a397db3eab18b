// Every parser of untrusted bytes, one fuzz target each. Built with libFuzzer by scripts/fuzz.sh
// (`-sanitize=fuzzer,address -D FUZZING`); built without it, this is a replayer:
// `upvault-fuzz TARGET FILE...` runs each file through TARGET once (a crash found is a unit test first).
//
// The targets reach internal parsers through `@testable import`, which only debug builds allow (they are
// compiled for testing); a release build of the package makes this tool with no targets.
import Foundation

#if DEBUG
@testable import UPVault
@testable import UPVaultAgent
@testable import UPVaultOAuth
@testable import UPVaultPostgres

enum FuzzTargets {
    /// Each target takes the input bytes and must return normally, whatever they are: errors are
    /// expected, crashes, traps, leaks and hangs are findings.
    static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "header": header, "log": log, "record": record, "anchor": anchor, "agent-frame": agentFrame,
        "agent-request": agentRequest, "redirect": redirect, "token-response": tokenResponse, "api": api,
        "kiefer": kiefer, "import-grants": importGrants, "template": template, "arguments": arguments,
        "json": json, "grant-json": grantJSON, "provider-answers": providerAnswers, "rows": rows,
        "postgres-url": postgresURL,
    ]

    static let rowKeys = RowKeys(masterKey: SecureBytes(copying: [UInt8](repeating: 7, count: 32)))

    /// What a database hands back: a header row, and an entry row's columns (kind, version, name hash,
    /// nonce, ciphertext cut from the input), checked and opened under a fixed key; and, sealed under that
    /// key, the rest of the input as an authentic row's plaintext (a hostile writer with the key).
    static func rows(_ bytes: [UInt8]) {
        _ = try? RowHeader.decode(bytes)
        guard bytes.count >= 3 else { return }
        let kind = Int16(bytes[0]) - 1
        let version = Int64(bytes[1]) - 1
        let split = Int(bytes[2])
        let rest = Array(bytes[3...])
        let hash = Array(rest.prefix(min(split % 40, rest.count)))
        let nonce = Array(rest.dropFirst(hash.count).prefix(24))
        let ciphertext = Array(rest.dropFirst(hash.count + nonce.count))
        var scratch = SecureBytes(count: 64)
        if let row = try? SealedRow(
            kindCode: kind, nameHash: hash, version: version, nonce: nonce, ciphertext: ciphertext)
        {
            _ = try? row.open(vaultID: [UInt8](repeating: 0, count: 16), keys: rowKeys, scratch: &scratch) { _, _ in }
        }
        let plaintext = rest + [UInt8](repeating: 0, count: (64 - rest.count % 64) % 64)
        let sealed = plaintext.withUnsafeBytes {
            SealedRow.seal(
                plaintext: $0, kind: .secret, nameHash: [UInt8](repeating: 1, count: 32), version: 1,
                vaultID: [UInt8](repeating: 0, count: 16), keys: rowKeys)
        }
        _ = try? sealed.open(vaultID: [UInt8](repeating: 0, count: 16), keys: rowKeys, scratch: &scratch) { _, _ in }
    }

    /// A vault URL (with libpq's variables) and a passfile.
    static func postgresURL(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let location = try? PostgresLocation(url: text, environment: ["PGHOST": "/tmp", "USER": "u"])
        _ = location?.description
        let fallback = PostgresLocation(
            server: .tcp(host: "db", port: 5432), user: "u", database: "d", tls: .verifyFull)
        _ = PostgresCredentials.match(passfile: bytes, location: location ?? fallback)
    }

    static let keys = VaultKeys(masterKey: SecureBytes(copying: [UInt8](repeating: 7, count: 32)))
    static let decryption = RecordDecryption(workers: 1)

    /// The header and its key slots.
    static func header(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { raw in try? VaultHeader.decode(raw) }
    }

    /// A whole file: the header, then every frame and the end of the log under a fixed key (frames
    /// do not authenticate, but every length, type and tail rule runs before that).
    static func log(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            let start: Int
            let identity: LogIdentity
            if let header = try? VaultHeader.decode(raw) {
                start = header.byteCount
                identity = LogIdentity(vaultID: header.vaultID, generation: header.generation)
            } else {
                start = min(raw.count, 184)
                identity = LogIdentity(vaultID: [UInt8](repeating: 0, count: 16), generation: 1)
            }
            var index = EntryIndex()
            _ = try? LogScanner.scan(
                .bytes(raw, base: 0), from: ChainPosition(offset: start, count: 0, lastTag: .zero), identity: identity,
                keys: keys, decryption: decryption, into: &index)
        }
    }

    /// A decrypted record's plaintext (what an authentic but hostile writer could put there).
    static func record(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { RecordFrame.parse($0) }
    }

    static func anchor(_ bytes: [UInt8]) {
        _ = AnchorRecord.claimedCount(bytes)
        _ = AnchorRecord.decode(bytes, vaultID: [UInt8](repeating: 0, count: 16), key: keys.anchor)
    }

    /// The agent's frame reader, over a socket whose peer sent these bytes and closed.
    static func agentFrame(_ bytes: [UInt8]) {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else { return }
        defer {
            close(pair[0])
            close(pair[1])
        }
        let chunk = Array(bytes.prefix(1 << 16))
        _ = chunk.withUnsafeBytes { send(pair[1], $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        shutdown(pair[1], Int32(SHUT_WR))
        while (try? AgentFrame.read(from: pair[0], maximum: 1 << 16, deadline: .seconds(1))) ?? nil != nil {}
    }

    /// The agent's request decoder (envelope, operation, arguments) and the answers a client decodes.
    static func agentRequest(_ bytes: [UInt8]) {
        _ = AgentRequestHandler.decode(bytes)
        _ = try? AgentFrame.decode(AgentReply<AgentResponse>.self, from: bytes)
        _ = try? AgentFrame.decode(AgentReply<OAuthAgentResponse>.self, from: bytes)
        _ = AgentRequestHandler.page(of: ["a", "b"], after: String(decoding: bytes, as: UTF8.self), budget: 4)
        // The front binary's fast readers of plain answers: whatever they accept, JSONDecoder reads the same.
        if let fast = AgentRequest.fastResponse(bytes) {
            guard case .ok(let slow)? = try? AgentFrame.decode(AgentReply<AgentResponse>.self, from: bytes),
                slow == fast
            else { fatalError("the fast answer reader accepted what JSONDecoder reads otherwise") }
        }
        if let fast = AgentTokenRequest.fastResponse(bytes) {
            guard case .ok(let slow)? = try? AgentFrame.decode(AgentReply<AgentTokenResponse>.self, from: bytes),
                slow == fast
            else { fatalError("the fast token answer reader accepted what JSONDecoder reads otherwise") }
        }
    }

    /// A pasted or received redirect URL, against a registered redirect URI.
    static func redirect(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        try? EndpointPolicy.check(text)
        guard let received = try? ParsedURL(text) else { return }
        _ = received.query("code")
        _ = received.query("state")
        if let expected = try? ParsedURL("http://127.0.0.1/callback") { _ = received.isRedirect(to: expected) }
    }

    /// A token endpoint's answer: the first byte picks the status, the rest is the body.
    static func tokenResponse(_ bytes: [UInt8]) {
        let statuses = [200, 400, 401, 429, 500, 503, 302, 201]
        let status = statuses[Int(bytes.first ?? 0) % statuses.count]
        let result = HTTPResult(
            status: status, headers: [("Retry-After", "1"), ("Content-Type", "application/json")],
            body: Array(bytes.dropFirst()))
        _ = try? TokenResponse.parse(result)
        // The fast reading of the answer against JSONDecoder's: whatever it accepts reads the same.
        if let fast = TokenJSON(reading: result.body) {
            guard let slow = try? JSONDecoder().decode(TokenJSON.self, from: Data(result.body)), slow == fast else {
                fatalError("the fast token answer reader accepted what JSONDecoder reads otherwise")
            }
        }
        _ = try? ProviderJSON.decode(RefreshTokenEnvelope.self, from: result)
    }

    /// What today's providers answer outside the token endpoint: a metadata document (checked against
    /// its issuer), a device authorization answer, a revocation answer, and a rate as typed. The first
    /// byte picks the status, the rest is the body.
    static func providerAnswers(_ bytes: [UInt8]) {
        let statuses = [200, 400, 401, 429, 503, 302, 404, 201]
        let status = statuses[Int(bytes.first ?? 0) % statuses.count]
        let result = HTTPResult(status: status, headers: [("Retry-After", "2")], body: Array(bytes.dropFirst()))
        _ = try? ProviderMetadata.parse(result, issuer: "https://id.example")
        if let device = try? DeviceAuthorizationResponse.parse(result) {
            // What is printed must be plain: no escape sequence reaches a terminal.
            let printed = device.userCode + device.verificationURI + (device.verificationURIComplete ?? "")
            guard printed.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }), device.interval > 0, device.expiresIn > 0 else {
                fatalError("a device answer with unprintable text or an impossible interval was accepted")
            }
        }
        _ = try? RevocationResponse.parse(result)
        _ = try? RequestRate(parsing: String(decoding: bytes, as: UTF8.self))
    }

    /// `upvault api` paths against an API base.
    static func api(_ bytes: [UInt8]) {
        _ = try? OAuthClient.apiURL(base: "https://example.com/api/v1", path: String(decoding: bytes, as: UTF8.self))
    }

    static func kiefer(_ bytes: [UInt8]) {
        _ = try? KieferConfig.parse(bytes)
    }

    /// An `import grants` file: the JSON, then every item checked as the import checks it.
    /// An import file, streamed as `upvault import grants` reads it (from a file in /dev/shm, so the
    /// stream's refills and element boundaries run as they do for a user).
    static func importGrants(_ bytes: [UInt8]) {
        let path = "/dev/shm/upvault-fuzz-import-\(getpid()).json"
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { return }
        defer { unlink(path) }
        _ = try? GrantImport.streamGrants(path, app: app, now: 1_700_000_000) { _, _ in }
    }

    /// The JSON scanner on any bytes: an object read field by field, and any value skipped. A cut of a
    /// document that was read whole must be `truncated` (what the import stream relies on).
    static func json(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var scanner = JSONScanner(raw)
            guard (try? scanner.readObject { _, _ in }) != nil else {
                var skipper = JSONScanner(raw)
                _ = try? skipper.skipValue()
                return
            }
            let end = scanner.offset
            for cut in [end - 1, end / 2, 1] where cut > 0 && cut < end {
                var partial = JSONScanner(UnsafeRawBufferPointer(rebasing: raw[0..<cut]))
                do throws(JSONScanner.Failure) {
                    try partial.readObject { _, _ in }
                    fatalError("a cut object was read whole")
                } catch {
                    guard error == .truncated else { fatalError("a cut at \(cut) of a good object is \(error)") }
                }
            }
        }
    }

    /// The fast grant decoder against JSONDecoder: whatever it accepts, JSONDecoder reads the same.
    static func grantJSON(_ bytes: [UInt8]) {
        guard let fast = bytes.withUnsafeBytes({ Grant.decodeJSON($0) }) else { return }
        guard let slow = try? JSONDecoder().decode(Grant.self, from: Data(bytes)), slow == fast else {
            fatalError("the fast decoder accepted what JSONDecoder reads otherwise")
        }
        guard fast.encodedJSON().withUnsafeBytes({ Grant.decodeJSON($0) }) == fast else {
            fatalError("a decoded grant does not survive its own encoding")
        }
    }

    static let app = App(
        name: "up", provider: "generic", clientID: "id", clientSecrets: [App.ClientSecret(value: "s", addedAt: 0)],
        redirectURI: "https://localhost/callback", scopes: [],
        endpoints: App.Endpoints(authorize: "https://example.com/a", token: "https://example.com/t"))

    /// Templates and `exec` mappings with their `upvault:` references.
    static func template(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = try? SecretTemplate.references(in: text)
        _ = try? ExecEnvironment.mapping(text)
    }

    /// What the CLI's arguments parse: durations, dates, KDF choices, recovery keys.
    static func arguments(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = DurationText.seconds(parsing: text)
        _ = UnixTime(parsing: text)
        _ = KDFParameters(parsing: text)
        _ = try? RecoveryKeyText.parse(SecureBytes(copying: bytes))
    }
}
#else
enum FuzzTargets {
    static let all: [String: @Sendable ([UInt8]) -> Void] = [:]
}
#endif
