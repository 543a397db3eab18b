#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The `errno` a failed system call left, with its text. Every file syscall goes through `syscall`.
package struct Errno: Error, Equatable, Sendable, CustomStringConvertible {
    package var code: Int32

    package init(_ code: Int32) { self.code = code }

    package var description: String { Self.describe(code) }

    package static func describe(_ code: Int32) -> String {
        guard let message = strerror(code) else { return "errno \(code)" }
        return String(cString: message)
    }
}

/// Runs a system call that returns -1 (or a negative value) and sets `errno` on failure: retried while
/// it fails with EINTR, and any other failure thrown as its `Errno`, captured before anything else can
/// change it. A call whose failure must not be retried (`fsync`, `fdatasync`) is made directly.
@inline(__always)
@discardableResult
package func syscall<T: SignedInteger>(_ body: () -> T) throws(Errno) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = errno
        if code == EINTR { continue }
        throw Errno(code)
    }
}
