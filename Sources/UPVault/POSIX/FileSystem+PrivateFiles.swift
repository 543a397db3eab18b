internal import CPosixShims

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Files that hold or once held secrets, outside the vault: what users import, render and export.
extension FileSystem {
    /// The whole of a regular file (symbolic links not followed), refusing more than `maximum` bytes.
    package static func readFile(_ path: String, maximum: Int) throws(VaultError) -> [UInt8] {
        let file: PosixFile
        do { file = try PosixFile.open(path, flags: O_RDONLY | O_NOFOLLOW) } catch .vaultNotFound {
            throw .io(operation: "cannot read", path: path, errno: ENOENT)
        }
        guard try file.status().isRegularFile else { throw .notARegularFile(path: path) }
        return try file.readAll(maximum: maximum)
    }

    /// Replaces `path` atomically with a file only its owner can read: a 0600 temporary beside it
    /// (O_EXCL, never following a link), written, fsynced, renamed over `path`, the directory fsynced.
    package static func writePrivateFile(_ bytes: [UInt8], to path: String) throws(VaultError) {
        let temporary = path + ".upvault-tmp-" + Random.bytes(6).map { String($0, radix: 16) }.joined()
        do {
            let file = try PosixFile.open(temporary, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600)
            try file.setMode(0o600)
            try file.write(bytes, at: 0)
            try file.sync()
        } catch {
            unlink(temporary)
            throw error
        }
        try replace(path, with: temporary)
    }

    /// Creates the directories leading to `path` (not `path` itself) that are missing, mode 0700.
    package static func createPrivateParents(of path: String) throws(VaultError) {
        let directory = directory(of: path)
        guard directory != "/", directory != ".", !exists(directory) else { return }
        try createPrivateParents(of: directory)
        do { try syscall { mkdir(directory, 0o700) } } catch  where error.code != EEXIST {
            throw .io(operation: "mkdir", path: directory, errno: error.code)
        } catch {}
    }

    /// Overwrites a regular file with zeros, syncs it, removes it and syncs its directory. On a
    /// journaling or copy-on-write file system, or an SSD, old blocks may survive elsewhere
    /// (SECURITY.md); this removes the file and its contents from every ordinary view.
    package static func shred(_ path: String) throws(VaultError) {
        let file = try PosixFile.open(path, flags: O_WRONLY | O_NOFOLLOW)
        let status = try file.status()
        guard status.isRegularFile else { throw .notARegularFile(path: path) }
        let zeros = [UInt8](repeating: 0, count: 4096)
        var offset = 0
        while offset < status.size {
            let count = min(status.size - offset, zeros.count)
            try file.write(Array(zeros[0..<count]), at: offset)
            offset += count
        }
        try file.sync()
        do { try syscall { unlink(path) } } catch { throw .io(operation: "unlink", path: path, errno: error.code) }
        try syncDirectory(directory(of: path))
    }

    /// An in-memory file holding `bytes`, sealed against change and left open across `exec`: its path
    /// is `/dev/fd/N`, which exists only for this process and the program it executes.
    package static func sealedMemoryFile(named name: String, holding bytes: [UInt8]) throws(VaultError) -> String {
        let fd: Int32
        do { fd = try syscall { upv_memfd(name) } } catch {
            throw .io(operation: "memfd_create", path: name, errno: error.code)
        }
        do throws(Errno) {
            var offset = 0
            while offset < bytes.count {
                offset += try syscall {
                    bytes.withUnsafeBytes { raw in write(fd, raw.baseAddress! + offset, raw.count - offset) }
                }
            }
            try syscall { upv_seal(fd) }
            try syscall { lseek(fd, 0, SEEK_SET) }
        } catch {
            close(fd)
            throw .io(operation: "write", path: name, errno: error.code)
        }
        return "/dev/fd/\(fd)"
    }

    /// The path of the running executable (`/proc/self/exe`).
    package static func executablePath() throws(VaultError) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count: Int
        do { count = try syscall { readlink("/proc/self/exe", &buffer, buffer.count - 1) } } catch {
            throw .io(operation: "readlink", path: "/proc/self/exe", errno: error.code)
        }
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension FileSystem {
    /// The whole of a regular file that belongs to this user and that no one else may read or write
    /// (mode 0600 or stricter, as libpq asks of a passfile), refusing more than `maximum` bytes. The
    /// caller wipes the bytes.
    package static func readOwnerOnlyFile(_ path: String, maximum: Int) throws(VaultError) -> [UInt8] {
        let file: PosixFile
        do { file = try PosixFile.open(path, flags: O_RDONLY | O_NOFOLLOW) } catch .vaultNotFound {
            throw .io(operation: "cannot read", path: path, errno: ENOENT)
        }
        let status = try file.status()
        guard status.isRegularFile else { throw .notARegularFile(path: path) }
        guard status.owner == geteuid(), status.mode & 0o077 == 0 else {
            throw .insecurePermissions(
                path: path, mode: status.mode, reason: "it must belong to you and be readable by you alone (chmod 600)")
        }
        return try file.readAll(maximum: maximum)
    }
}
