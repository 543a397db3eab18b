#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

enum Errno {
    static func describe(_ code: Int32) -> String {
        guard let message = strerror(code) else { return "errno \(code)" }
        return String(cString: message)
    }
}

/// An open file descriptor that closes itself. All vault I/O goes through here, with EINTR retried
/// and short reads and writes completed or reported.
final class PosixFile: @unchecked Sendable {
    let descriptor: Int32
    let path: String

    init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { close(descriptor) }

    static func open(_ path: String, flags: Int32, mode: mode_t = 0o600) throws(VaultError) -> PosixFile {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return PosixFile(descriptor: fd, path: path) }
            if errno == EINTR { continue }
            let code = errno
            if code == ENOENT && flags & O_CREAT == 0 { throw .vaultNotFound(path: path) }
            if code == EEXIST { throw .vaultExists(path: path) }
            throw .io(operation: "open", path: path, errno: code)
        }
    }

    struct Identity: Equatable, Sendable {
        var device: UInt64
        var inode: UInt64
    }

    struct Status: Sendable {
        var identity: Identity
        var size: Int
        var mode: UInt32
        var owner: UInt32
    }

    func status() throws(VaultError) -> Status {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw .io(operation: "fstat", path: path, errno: errno) }
        return Status(info)
    }

    static func status(ofPath path: String) throws(VaultError) -> Status? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw .io(operation: "stat", path: path, errno: errno)
        }
        return Status(info)
    }

    /// Reads exactly `count` bytes at `offset`. A file that ends early is reported as short.
    func read(count: Int, at offset: Int) throws(VaultError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let result = buffer.withUnsafeMutableBytes { raw in
                pread(descriptor, raw.baseAddress! + done, count - done, off_t(offset + done))
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "read", path: path, errno: errno)
            }
            if result == 0 { return Array(buffer[0..<done]) }
            done += result
        }
        return buffer
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: [UInt8], at offset: Int) throws(VaultError) {
        var done = 0
        while done < bytes.count {
            let result = bytes.withUnsafeBytes { raw in
                pwrite(descriptor, raw.baseAddress! + done, bytes.count - done, off_t(offset + done))
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "write", path: path, errno: errno)
            }
            done += result
        }
    }

    func truncate(to length: Int) throws(VaultError) {
        while ftruncate(descriptor, off_t(length)) != 0 {
            if errno == EINTR { continue }
            throw .io(operation: "truncate", path: path, errno: errno)
        }
    }

    /// `fdatasync`. Its failure is reported as `syncFailed` and must never be retried.
    func syncData() throws(VaultError) {
        if fdatasync(descriptor) != 0 { throw .syncFailed(path: path, errno: errno) }
    }

    /// `fsync` (data and metadata).
    func sync() throws(VaultError) {
        if fsync(descriptor) != 0 { throw .syncFailed(path: path, errno: errno) }
    }

    /// `flock`, waiting for the lock; EINTR is retried.
    func lock(exclusive: Bool) throws(VaultError) {
        while flock(descriptor, exclusive ? LOCK_EX : LOCK_SH) != 0 {
            if errno == EINTR { continue }
            throw .io(operation: "lock", path: path, errno: errno)
        }
    }

    func unlock() {
        _ = flock(descriptor, LOCK_UN)
    }
}

extension PosixFile.Status {
    init(_ info: stat) {
        identity = PosixFile.Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        size = Int(info.st_size)
        mode = UInt32(info.st_mode)
        owner = UInt32(info.st_uid)
    }
}

/// Paths and directory-level operations.
enum FileSystem {
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// fsyncs a directory so that a rename or a new name in it is durable.
    static func syncDirectory(_ path: String) throws(VaultError) {
        let directory = try PosixFile.open(path, flags: O_RDONLY | O_DIRECTORY)
        try directory.sync()
    }

    /// Refuses a vault file or directory that others could write or that is not ours.
    static func checkOwnership(_ status: PosixFile.Status, path: String, isDirectory: Bool) throws(VaultError) {
        let me = geteuid()
        if status.owner != me && !(isDirectory && status.owner == 0) {
            throw .insecurePermissions(path: path, mode: status.mode, reason: "it belongs to uid \(status.owner), not to uid \(me)")
        }
        let sticky = status.mode & UInt32(S_ISVTX) != 0
        if status.mode & 0o022 != 0 && !(isDirectory && sticky && status.owner == 0) {
            throw .insecurePermissions(
                path: path, mode: status.mode,
                reason: "it is writable by \(status.mode & 0o002 != 0 ? "others" : "its group")")
        }
    }

    static func checkDirectory(of path: String) throws(VaultError) {
        let directory = directory(of: path)
        guard let status = try PosixFile.status(ofPath: directory) else {
            throw .io(operation: "open directory", path: directory, errno: ENOENT)
        }
        try checkOwnership(status, path: directory, isDirectory: true)
    }

    /// Writes `chunks` to a new file next to `path` (O_EXCL, 0600), fsyncs it and returns its path.
    static func writeTemporary(near path: String, chunks: [[UInt8]]) throws(VaultError) -> String {
        let suffix = Random.bytes(8).map { String($0, radix: 16) }.joined()
        let temporary = "\(path).tmp-\(suffix)"
        let file = try PosixFile.open(temporary, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
        do {
            var offset = 0
            for chunk in chunks {
                try file.write(chunk, at: offset)
                offset += chunk.count
            }
            try file.sync()
        } catch {
            unlink(temporary)
            throw error
        }
        return temporary
    }

    /// Removes `<path>.tmp-*` files left by a rewrite that was killed. Call with the exclusive lock held.
    static func removeStaleTemporaries(near path: String) {
        let directoryPath = directory(of: path)
        let prefix = String(path[path.index(after: path.lastIndex(of: "/") ?? path.startIndex)...]) + ".tmp-"
        let prefixWithoutSlash = prefix.hasPrefix("/") ? String(prefix.dropFirst()) : prefix
        guard let directory = opendir(directoryPath) else { return }
        defer { closedir(directory) }
        var stale: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(prefixWithoutSlash) { stale.append(name) }
        }
        for name in stale { unlink(directoryPath + "/" + name) }
    }

    /// Atomically puts `temporary` in place of `path` (replacing it) and makes the rename durable.
    static func replace(_ path: String, with temporary: String) throws(VaultError) {
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw .io(operation: "rename", path: path, errno: code)
        }
        try syncDirectory(directory(of: path))
    }

    /// Atomically gives `temporary` the name `path` only if `path` does not exist yet.
    static func install(_ temporary: String, at path: String) throws(VaultError) {
        defer { unlink(temporary) }
        guard link(temporary, path) == 0 else {
            let code = errno
            if code == EEXIST { throw .vaultExists(path: path) }
            throw .io(operation: "link", path: path, errno: code)
        }
        try syncDirectory(directory(of: path))
    }
}
