import UPVault

#if canImport(Glibc)
import Glibc
#endif

/// The calls scripts make in loops, answered through a running agent by this small binary (UPVault
/// only: no argument parser, HTTP stack or concurrency runtime to load and start, which were most of a
/// call's time):
/// `upvault token [--app A] [--user U] [--min-valid D]` and `upvault secret get NAME [--raw]`. Only
/// these exact shapes take this path; any other argument, no agent, or any failure other than the
/// agent's own answer falls through to the full command (`upvault-cli`), which behaves the same.
enum FastPath {
    static func run(_ arguments: ArraySlice<String>) {
        switch arguments.first {
        case "token": token(arguments.dropFirst())
        case "secret": secretGet(arguments.dropFirst())
        default: return
        }
    }

    private static func token(_ arguments: ArraySlice<String>) {
        var app: String?
        var user: String?
        var margin: Int64 = 300
        var rest = arguments
        while let flag = rest.first {
            guard rest.count >= 2 else { return }
            let value = rest[rest.startIndex + 1]
            switch flag {
            case "--app": app = value
            case "--user": user = value
            case "--min-valid":
                guard let seconds = DurationText.seconds(parsing: value) else { return }
                margin = seconds
            default: return
            }
            rest = rest.dropFirst(2)
        }
        withAgent { agent, environment throws(AgentError) in
            let selection = GrantSelector(app: app, user: user, environment: environment)
            let token = try agent.accessToken(
                app: selection.app, user: selection.user, minimumValidity: .seconds(margin))
            Output.write(1, token + "\n")
        }
    }

    private static func secretGet(_ arguments: ArraySlice<String>) {
        let words = Array(arguments)
        guard words.count == 2 || (words.count == 3 && words[2] == "--raw"), words[0] == "get",
            !words[1].hasPrefix("-")
        else { return }
        let name = words[1]
        let raw = words.count == 3
        withAgent { agent, _ throws(AgentError) in
            let found: SecureBytes?
            do {
                found = try agent.value(for: EntryKey(.secret, name))
            } catch let error as AgentError {
                throw error
            } catch {
                throw .connectionLost("")
            }
            // No such secret: the full command says so, with its exit code.
            guard let value = found else { throw .connectionLost("") }
            value.withUnsafeBytes { Output.write(1, $0) }
            if !raw { Output.write(1, "\n") }
        }
    }

    /// Runs `body` on the agent of this vault and exits: 0, or the agent's refusal with its exit code.
    /// No agent, another vault's agent or a lost connection return, for the full command to decide.
    private static func withAgent(
        _ body: (AgentClient, [String: String]) throws(AgentError) -> Void
    ) {
        let environment = Vault.processEnvironment()
        let path = VaultLocation.resolve(explicit: nil, environment: environment)
        guard let agent = try? AgentClient.connect(vaultPath: path, environment: environment, verifyingVault: false)
        else { return }
        do {
            try body(agent, environment)
            exit(0)
        } catch .refused(let message, let category) {
            Output.write(2, "upvault: \(message)\n")
            exit(category.exitCode)
        } catch {
            return
        }
    }
}

/// stdout and stderr, written whole (a pipe may take less at a time).
enum Output {
    static func write(_ fd: Int32, _ text: String) {
        var copy = text
        copy.withUTF8 { write(fd, UnsafeRawBufferPointer($0)) }
    }

    static func write(_ fd: Int32, _ raw: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < raw.count {
            let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }
}
