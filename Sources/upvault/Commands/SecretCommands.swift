import ArgumentParser
import UPVault

#if canImport(Glibc)
import Glibc
#endif

struct SecretCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret",
        abstract: "Store and read named secrets.",
        subcommands: [Set.self, Get.self, List.self, Remove.self])

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a secret. The value comes from stdin, or a no-echo prompt on a terminal; never from the command line.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The secret's name (letters, digits, . _ - @ + :).") var name: String
        @Flag(help: "Keep stdin byte for byte (by default one trailing newline is dropped).") var raw = false

        func run() throws {
            try EntryName.validate(EntryKey(.secret, name))
            let vault = try options.openStore()
            let value = try SecretInput.read(name: name, raw: raw)
            try vault.setSecret(value, named: name)
            if !options.json { Terminal.error("stored secret '\(name)'") }
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a secret's value.")

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
        static let configuration = CommandConfiguration(abstract: "List the names of all secrets.")

        @OptionGroup var options: GlobalOptions

        func run() throws {
            let vault = try options.openStore()
            let names = try vault.secretNames()
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
            let vault = try options.openStore()
            guard try vault.removeSecret(named: name) else {
                throw VaultError.entryNotFound(EntryKey(.secret, name))
            }
            if !options.json { Terminal.error("removed secret '\(name)'") }
        }
    }
}

/// A secret value from stdin or, on a terminal, a no-echo prompt.
enum SecretInput {
    static let maximumLength = 1 << 20

    static func read(name: String, raw: Bool) throws -> SecureBytes {
        if Terminal.standardInputIsTerminal {
            return try PassphraseSource.terminal.read(prompt: "Value for secret '\(name)': ")
        }
        var buffer = SecureBytes(count: maximumLength + 1)
        var length = 0
        try buffer.withUnsafeMutableBytes { (out) throws in
            while length < out.count {
                let count = Glibc.read(0, out.baseAddress! + length, out.count - length)
                if count < 0 {
                    if errno == EINTR { continue }
                    throw VaultError.io(operation: "read", path: "stdin", errno: errno)
                }
                if count == 0 { break }
                length += count
            }
            if !raw && length > 0 && out[length - 1] == UInt8(ascii: "\n") {
                length -= 1
                if length > 0 && out[length - 1] == UInt8(ascii: "\r") { length -= 1 }
            }
        }
        guard length <= maximumLength else { throw VaultError.valueTooLarge(byteCount: length) }
        var value = SecureBytes(count: length)
        value.withUnsafeMutableBytes { out in
            buffer.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
        }
        return value
    }
}
