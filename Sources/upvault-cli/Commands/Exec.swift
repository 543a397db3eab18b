import ArgumentParser
import UPVault
import UPVaultOAuth

struct Exec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command with fresh tokens in its environment.",
        discussion: """
            By default the child gets UP_ACCESS_TOKEN and UP_CLIENT_ID for the selected grant. Refresh \
            tokens, client secrets and other secrets reach it only when mapped with --env NAME=REF \
            (REF: app/NAME/client_id|client_secret, grant/APP/USER/access_token|refresh_token, secret/NAME). \
            --kiefer-config VAR gives the child a kiefer config.json at the path in $VAR: an in-memory \
            file under /dev/fd that exists only for the child, never on disk. The child never sees \
            UPVAULT_PASSPHRASE_FILE. The exit status is the command's own.
            """)

    @OptionGroup var options: GlobalOptions
    @OptionGroup var selection: GrantOptions
    @Option(name: .customLong("env"), help: ArgumentHelp("Set NAME to the value of REF.", valueName: "NAME=REF"))
    var mappings: [String] = []
    @Flag(help: "Do not set UP_ACCESS_TOKEN and UP_CLIENT_ID.") var noDefaults = false
    @Option(help: ArgumentHelp("Put the path of a kiefer config for the grant in this variable.", valueName: "VAR"))
    var kieferConfig: String?
    @Argument(parsing: .postTerminator, help: "The command and its arguments (after --).") var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("no command given (upvault exec ... -- cmd args)") }
    }

    func run() async throws {
        let variables = try mappings.map { mapping throws(ReferenceError) in try ExecEnvironment.mapping(mapping) }
        let environment = try await ExecEnvironment.build(
            for: try options.openStore(), base: options.environment, selection: selection.selector(options.environment),
            mappings: variables, defaults: !noDefaults, kieferConfig: kieferConfig)
        let failure = ExecEnvironment.exec(command, environment: environment)
        throw CLIError(description: failure.description, exit: failure.isNotFound ? 127 : 126)
    }
}

struct Inject: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inject",
        abstract: "Render a template, replacing {{ upvault:REF }} with values from the vault.",
        discussion: "The output file is written with mode 0600, atomically; without -o the result goes to stdout.")

    @OptionGroup var options: GlobalOptions
    @Option(name: .shortAndLong, help: "The template file.") var input: String
    @Option(name: .shortAndLong, help: "Where to write the result (mode 0600).") var output: String?

    func run() async throws {
        let template = try SecretTemplate.read(input)  // malformed references fail before the vault opens
        let rendered = try await SecretTemplate.render(template, in: try options.openStore())
        guard let output else {
            Terminal.out(rendered)
            return
        }
        try SecretTemplate.write(rendered, to: output)
    }
}
