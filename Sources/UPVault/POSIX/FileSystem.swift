#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Paths and directory-level operations: the vault's own files (temporaries, atomic replacement,
/// ownership checks). Private files for users (imports, templates, outputs) are in
/// `FileSystem+PrivateFiles.swift`.
package enum FileSystem {
    package static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// Whether anything (a file, a directory, a dangling link's target excluded) exists at `path`.
    package static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// fsyncs a directory so that a rename or a new name in it is durable.
    package static func syncDirectory(_ path: String) throws(VaultError) {
        let directory = try PosixFile.open(path, flags: O_RDONLY | O_DIRECTORY)
        try directory.sync()
    }

    /// Refuses a vault file or directory that others could write or that is not ours.
    static func checkOwnership(_ status: PosixFile.Status, path: String, isDirectory: Bool) throws(VaultError) {
        let me = geteuid()
        if status.owner != me && !(isDirectory && status.owner == 0) {
            throw .insecurePermissions(
                path: path, mode: status.mode, reason: "it belongs to uid \(status.owner), not to uid \(me)")
        }
        let sticky = status.mode & UInt32(S_ISVTX) != 0
        if status.mode & 0o022 != 0 && !(isDirectory && sticky && status.owner == 0) {
            throw .insecurePermissions(
                path: path, mode: status.mode,
                reason: "it is writable by \(status.mode & 0o002 != 0 ? "others" : "its group")")
        }
    }

    /// The vault's lock file (`<vault>.lock`), created 0600 if missing. Never through a symbolic link,
    /// and refused unless it is a regular file of ours that neither group nor others can write: a lock
    /// file another user planted could otherwise hold every command, or point our writes elsewhere.
    /// Opened read-only where the vault is (a vault on read-only media, or one we may only read).
    package static func openLockFile(_ path: String) throws(VaultError) -> PosixFile {
        let file: PosixFile
        do {
            file = try PosixFile.open(path, flags: O_RDWR | O_CREAT | O_NOFOLLOW, mode: 0o600)
        } catch .io(_, _, let code) where code == EACCES || code == EROFS {
            file = try PosixFile.open(path, flags: O_RDONLY | O_NOFOLLOW)
        } catch .io(_, _, let code) where code == ELOOP {
            throw .insecurePermissions(path: path, mode: 0, reason: "it is a symbolic link")
        }
        let status = try file.status()
        guard status.isRegularFile else { throw .notARegularFile(path: path) }
        try checkOwnership(status, path: path, isDirectory: false)
        return file
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
