// `upvault`: answers `token` and `secret get` through a running agent itself (FastPath), and replaces
// itself with `upvault-cli`, the full command-line tool installed beside it, for everything else. The
// process may hold secrets: no core dumps, not ptrace-able by other processes of ours.
import CPosixShims
import UPVault

#if canImport(Glibc)
import Glibc
#endif

_ = upv_disable_core_dumps()
FastPath.run(CommandLine.arguments.dropFirst())
FullCommand.replaceProcess()

enum FullCommand {
    static let name = "upvault-cli"

    /// `exec`s upvault-cli from this executable's directory with the same arguments (`argv[0]` too, so
    /// `ps` shows the command the user ran) and environment; the same process, so a signal meant for
    /// `upvault` reaches it. Returns only to fail.
    static func replaceProcess() -> Never {
        let directory: String
        do {
            let executable = try FileSystem.executablePath()
            directory = String(executable[..<(executable.lastIndex(of: "/") ?? executable.startIndex)])
        } catch {
            Output.write(2, "upvault: cannot find its own executable: \(error)\n")
            exit(FailureCategory.failure.exitCode)
        }
        let path = directory + "/" + name
        let code = ProcessImage.replace(executable: path, arguments: CommandLine.arguments)
        Output.write(
            2, "upvault: cannot run \(path) (\(Errno.describe(code))): install it beside upvault\n")
        exit(FailureCategory.failure.exitCode)
    }
}
