internal import CPosixShims

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Replacing this process with another program.
package enum ProcessImage {
    /// `execvp(command[0], command)` with exactly `environment`. Returns only when the program could not
    /// be run, with the `errno` that says why.
    package static func replace(with command: [String], environment: [String: String]) -> Int32 {
        guard !command.isEmpty else { return ENOENT }
        var names: [String] = []
        var current = environ
        while let entry = current.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") { names.append(String(text[..<equals])) }
            current += 1
        }
        for name in names where environment[name] == nil { unsetenv(name) }
        for (name, value) in environment { setenv(name, value, 1) }
        // execvp searches PATH as the new environment has it, as a shell would for the command.
        let argv = command.map { strdup($0) } + [nil]
        execvp(command[0], argv)
        let code = errno
        for pointer in argv { free(pointer) }
        return code
    }

    /// `execv(executable, arguments)` with this process's environment: `arguments[0]` stays what the
    /// caller says (the name the user ran), whatever file runs. Returns only on failure, with `errno`.
    package static func replace(executable: String, arguments: [String]) -> Int32 {
        let argv = arguments.map { strdup($0) } + [nil]
        execv(executable, argv)
        let code = errno
        for pointer in argv { free(pointer) }
        return code
    }

    /// Waits until process `pid` (not necessarily our child) has exited, at most `timeout`: true when
    /// it has (or never existed). A wait on the kernel's word (a pidfd), not on a guessed time.
    package static func waitForExit(of pid: Int32, timeout: Duration) -> Bool {
        let fd: Int32
        do { fd = try syscall { upv_pidfd_open(pid) } } catch { return error.code == ESRCH }
        defer { close(fd) }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000)
        while true {
            let ready = poll(&poller, 1, milliseconds)
            if ready < 0 && errno == EINTR { continue }
            return ready > 0
        }
    }

    /// The number of processors online (at least 1, at most `maximum`).
    package static func onlineProcessorCount(maximum: Int) -> Int {
        min(max(sysconf(Int32(_SC_NPROCESSORS_ONLN)), 1), maximum)
    }
}
