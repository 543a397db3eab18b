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
}
