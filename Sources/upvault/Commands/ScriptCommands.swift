import ArgumentParser
import CPosixShims
import UPVault
import UPVaultOAuth

#if canImport(Glibc)
import Glibc
#endif

/// Resolves references through the agent or the file, with access tokens fresh.
struct ReferenceResolver {
    let store: any VaultStore

    func accessToken(app: String, user: String) async throws -> String {
        if let agent = store as? AgentClient {
            return try agent.accessToken(app: app, user: user, minimumValidity: .seconds(300))
        }
        return try await withOAuthClient(store) { client in
            try await client.accessToken(app: app, user: user, minimumValidity: .seconds(300))
        }
    }

    func resolve(_ reference: SecretReference) async throws -> String {
        try await reference.resolve(in: store) { app, user in try await accessToken(app: app, user: user) }
    }
}

struct Exec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a command with fresh tokens in its environment.",
        discussion: """
            By default the child gets UP_ACCESS_TOKEN and UP_CLIENT_ID for the selected grant. Refresh \
            tokens, client secrets and other secrets reach it only when mapped with --env NAME=REF \
            (REF: app/NAME/client_id|client_secret, grant/APP/USER/access_token|refresh_token, secret/NAME). \
            --kiefer-config VAR gives the child a kiefer config.json at the path in $VAR: an in-memory \
            file under /dev/fd that exists only for the child, never on disk. The exit status is the \
            command's own.
            """)

    @OptionGroup var options: GlobalOptions
    @OptionGroup var selection: GrantSelection
    @Option(name: .customLong("env"), help: ArgumentHelp("Set NAME to the value of REF.", valueName: "NAME=REF")) var mappings: [String] = []
    @Flag(help: "Do not set UP_ACCESS_TOKEN and UP_CLIENT_ID.") var noDefaults = false
    @Option(help: ArgumentHelp("Put the path of a kiefer config for the grant in this variable.", valueName: "VAR"))
    var kieferConfig: String?
    @Argument(parsing: .postTerminator, help: "The command and its arguments (after --).") var command: [String] = []

    func run() async throws {
        guard !command.isEmpty else { throw CLIError(description: "no command given (upvault exec ... -- cmd args)", exitStatus: .usage) }
        var variables: [(String, SecretReference)] = []
        for mapping in mappings {
            guard let equals = mapping.firstIndex(of: "="), equals != mapping.startIndex,
                mapping[..<equals].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
            else { throw CLIError(description: "--env takes NAME=REF, got '\(mapping)'", exitStatus: .usage) }
            variables.append((String(mapping[..<equals]), try SecretReference(parsing: String(mapping[mapping.index(after: equals)...]))))
        }
        let store = try options.openStore()
        let resolver = ReferenceResolver(store: store)
        var grant: (app: String, user: String)?
        if !noDefaults || kieferConfig != nil {
            do {
                let app = try selection.appName(in: store, environment: options.environment)
                grant = (app, try selection.userLabel(app: app, in: store, environment: options.environment))
            } catch where !mappings.isEmpty && kieferConfig == nil {
                grant = nil  // only the mapped values were asked for
            }
        }
        if let grant, !noDefaults {
            variables.insert(("UP_CLIENT_ID", .clientID(app: grant.app)), at: 0)
            variables.insert(("UP_ACCESS_TOKEN", .accessToken(app: grant.app, user: grant.user)), at: 0)
        }
        var environment = options.environment
        for (name, reference) in variables {
            environment[name] = try await resolver.resolve(reference)
        }
        if let variable = kieferConfig, let grant {
            environment[variable] = try await kieferDescriptorPath(store: store, resolver: resolver, app: grant.app, user: grant.user)
        }
        try Self.replaceProcess(with: command, environment: environment)
    }

    /// A sealed memfd holding the kiefer config, left open across exec: `/dev/fd/N`.
    func kieferDescriptorPath(store: any VaultStore, resolver: ReferenceResolver, app: String, user: String) async throws -> String {
        guard let entry = try store.entry(App.self, named: app) else { throw VaultError.entryNotFound(EntryKey(.app, app)) }
        var grant = try store.entry(Grant.self, named: "\(app)/\(user)")
        if grant != nil { grant!.accessToken = try await resolver.accessToken(app: app, user: user) }
        let grantAfterRefresh = try store.entry(Grant.self, named: "\(app)/\(user)")
        if let refreshed = grantAfterRefresh?.refreshToken { grant?.refreshToken = refreshed }
        let bytes = KieferMigration.exportConfig(app: entry, grant: grant).encoded()
        let fd = upv_memfd("upvault-kiefer-config")
        guard fd >= 0 else { throw CLIError(description: "memfd_create failed: \(String(cString: strerror(errno)))") }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, upv_seal(fd) == 0, lseek(fd, 0, SEEK_SET) == 0 else {
            throw CLIError(description: "could not prepare the kiefer config descriptor")
        }
        return "/dev/fd/\(fd)"
    }

    /// execvp: the command replaces this process, so its exit status is the one the caller sees.
    static func replaceProcess(with command: [String], environment: [String: String]) throws -> Never {
        for (name, value) in environment { setenv(name, value, 1) }
        var current = environ
        var names: [String] = []
        while let entry = current.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") { names.append(String(text[..<equals])) }
            current += 1
        }
        for name in names where environment[name] == nil { unsetenv(name) }
        let argv = command.map { strdup($0) } + [nil]
        execvp(command[0], argv)
        let code = errno
        Terminal.error("cannot run \(command[0]): \(String(cString: strerror(code)))")
        Glibc.exit(code == ENOENT ? 127 : 126)
    }
}

struct Inject: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render a template, replacing {{ upvault:REF }} with values from the vault.",
        discussion: "The output file is written with mode 0600, atomically; without -o the result goes to stdout.")

    @OptionGroup var options: GlobalOptions
    @Option(name: .shortAndLong, help: "The template file.") var input: String
    @Option(name: .shortAndLong, help: "Where to write the result (mode 0600).") var output: String?

    func run() async throws {
        let template = try Self.readTemplate(input)
        _ = try SecretTemplate.references(in: template)  // malformed references fail before anything is read
        let store = try options.openStore()
        let resolver = ReferenceResolver(store: store)
        let rendered = try await SecretTemplate.render(template) { try await resolver.resolve($0) }
        guard let output else {
            Terminal.out(rendered)
            return
        }
        try PrivateFile.write(Array(rendered.utf8), to: output)
    }

    static func readTemplate(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw CLIError(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            bytes += buffer.prefix(count)
            if bytes.count > SecretTemplate.maximumByteCount { throw ReferenceError.templateTooLarge }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A file only its owner can read, replaced atomically: a 0600 temporary beside it, fsync, rename,
/// directory fsync.
enum PrivateFile {
    static func write(_ bytes: [UInt8], to path: String) throws {
        let directory = path.lastIndex(of: "/").map { path[..<$0].isEmpty ? "/" : String(path[..<$0]) } ?? "."
        let temporary = path + ".upvault-tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw CLIError(description: "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var failure: String?
        if fchmod(fd, 0o600) != 0 { failure = "chmod" }
        var offset = 0
        while failure == nil && offset < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { failure = "write" } else { offset += count }
        }
        if failure == nil && fsync(fd) != 0 { failure = "fsync" }
        close(fd)
        if failure == nil && rename(temporary, path) != 0 { failure = "rename" }
        if let failure {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CLIError(description: "writing \(path) failed (\(failure): \(reason))")
        }
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            _ = fsync(dirfd)
            close(dirfd)
        }
    }
}
