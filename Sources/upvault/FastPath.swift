import UPVault
import UPVaultOAuth

#if canImport(Glibc)
import Glibc
#endif

/// `upvault token [--app A] [--user U] [--min-valid D]` through a running agent, without building the
/// argument parser's command tree: scripts call this in loops, and the parser is a fifth of a call's
/// time. Only these exact shapes take this path; any other argument, no agent, or any failure other
/// than the agent's own answer falls through to the full command, which behaves the same.
enum FastPath {
    static func run(_ arguments: ArraySlice<String>) {
        guard arguments.first == "token" else { return }
        var app: String?
        var user: String?
        var margin: Int64 = 300
        var rest = arguments.dropFirst()
        while let flag = rest.first {
            guard rest.count >= 2 else { return }
            let value = rest[rest.startIndex + 1]
            switch flag {
            case "--app": app = value
            case "--user": user = value
            case "--min-valid":
                guard let duration = DurationArgument(argument: value) else { return }
                margin = duration.seconds
            default: return
            }
            rest = rest.dropFirst(2)
        }
        let environment = Vault.processEnvironment()
        let path = VaultLocation.resolve(explicit: nil, environment: environment)
        guard let agent = try? AgentClient.connect(vaultPath: path, environment: environment, verifyingVault: false)
        else { return }
        let selection = GrantSelector(app: app, user: user, environment: environment)
        do {
            let token = try agent.accessToken(
                app: selection.app, user: selection.user, minimumValidity: .seconds(margin))
            Terminal.out(token + "\n")
            exit(0)
        } catch .refused(let message, let category) {
            Terminal.error(message)
            exit(ExitStatus(category).rawValue)
        } catch {
            return  // another vault's agent, a lost connection: the full command decides
        }
    }
}
