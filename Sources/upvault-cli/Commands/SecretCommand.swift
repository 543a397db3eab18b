import ArgumentParser
import UPVault

struct SecretCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret",
        abstract: "Store and read named secrets.",
        subcommands: [Set.self, Get.self, List.self, Remove.self])

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract:
                "Store a secret. The value comes from stdin, or a no-echo prompt on a terminal; never from the command line."
        )

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The secret's name (letters, digits, . _ - @ + :).") var name: String
        @Flag(help: "Keep stdin byte for byte (by default one trailing newline is dropped).") var raw = false

        func run() throws {
            try EntryName.validate(EntryKey(.secret, name))
            let vault = try options.openStore()
            try vault.setSecret(try SecretInput.read(name: name, raw: raw), named: name)
            if !options.json { Terminal.error("stored secret '\(name)'") }
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "get", abstract: "Print a secret's value.")

        @OptionGroup var options: GlobalOptions
        @Argument var name: String
        @Flag(help: "Print the value without a trailing newline.") var raw = false

        func run() throws {
            let vault = try options.openStore()
            guard let value = try vault.secret(named: name) else {
                throw VaultError.entryNotFound(EntryKey(.secret, name))
            }
            if options.json {
                guard let text = value.utf8String() else {
                    throw CLIError(description: "secret '\(name)' is not UTF-8 text; use it without --json")
                }
                try JSONOutput.print(["name": name, "value": text])
                return
            }
            Terminal.out(value)
            if !raw { Terminal.out("\n") }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List the names of all secrets.")

        @OptionGroup var options: GlobalOptions

        func run() throws {
            let names = try options.openStore().secretNames()
            if options.json {
                try JSONOutput.print(names)
            } else {
                Terminal.out(names.map { $0 + "\n" }.joined())
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a secret.")

        @OptionGroup var options: GlobalOptions
        @Argument var name: String

        func run() throws {
            guard try options.openStore().removeSecret(named: name) else {
                throw VaultError.entryNotFound(EntryKey(.secret, name))
            }
            if !options.json { Terminal.error("removed secret '\(name)'") }
        }
    }
}
