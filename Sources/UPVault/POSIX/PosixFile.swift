import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file descriptor that closes itself. All file I/O goes through here or `FileSystem`, with
/// EINTR retried and short reads and writes completed or reported.
package final class PosixFile: Sendable {
    package let descriptor: Int32
    package let path: String
    /// `fdatasync`s and `fsync`s that succeeded on this descriptor (tests check what reached the disk).
    let syncCount = Atomic<Int>(0)

    package init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { close(descriptor) }

    /// `open(2)` with close-on-exec. ENOENT without `O_CREAT` is `vaultNotFound`, EEXIST `vaultExists`.
    package static func open(_ path: String, flags: Int32, mode: UInt32 = 0o600) throws(VaultError) -> PosixFile {
        do {
            let fd = try syscall { Glibc.open(path, flags | O_CLOEXEC, mode_t(mode)) }
            return PosixFile(descriptor: fd, path: path)
        } catch {
            if error.code == ENOENT && flags & O_CREAT == 0 { throw .vaultNotFound(path: path) }
            if error.code == EEXIST { throw .vaultExists(path: path) }
            throw .io(operation: "open", path: path, errno: error.code)
        }
    }

    package struct Identity: Equatable, Sendable {
        package var device: UInt64
        package var inode: UInt64
    }

    package struct Status: Sendable {
        package var identity: Identity
        package var size: Int
        package var mode: UInt32
        package var owner: UInt32

        package var isRegularFile: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFREG) }
    }

    package func status() throws(VaultError) -> Status {
        var info = stat()
        do { try syscall { fstat(descriptor, &info) } } catch {
            throw .io(operation: "fstat", path: path, errno: error.code)
        }
        return Status(info)
    }

    /// `stat(2)` of a path (following links); nil when nothing is there.
    package static func status(ofPath path: String) throws(VaultError) -> Status? {
        var info = stat()
        do {
            try syscall { stat(path, &info) }
        } catch {
            if error.code == ENOENT { return nil }
            throw .io(operation: "stat", path: path, errno: error.code)
        }
        return Status(info)
    }

    /// Reads exactly `count` bytes at `offset`. A file that ends early is reported as short.
    package func read(count: Int, at offset: Int) throws(VaultError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let done = try buffer.withMutableRawBytes { (raw) throws(VaultError) -> Int in try read(into: raw, at: offset) }
        return done == count ? buffer : Array(buffer[0..<done])
    }

    /// Fills `buffer` from `offset`; returns how many bytes were read (fewer only at the end of the file).
    package func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(VaultError) -> Int {
        var done = 0
        while done < buffer.count {
            let result: Int
            do {
                result = try syscall {
                    pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
                }
            } catch {
                throw .io(operation: "read", path: path, errno: error.code)
            }
            if result == 0 { break }
            done += result
        }
        return done
    }

    /// Reads the whole file from its current position, refusing more than `maximum` bytes.
    package func readAll(maximum: Int) throws(VaultError) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count: Int
            do {
                count = try syscall {
                    chunk.withUnsafeMutableBytes { raw in Glibc.read(descriptor, raw.baseAddress!, raw.count) }
                }
            } catch {
                throw .io(operation: "read", path: path, errno: error.code)
            }
            if count == 0 { break }
            bytes += chunk.prefix(count)
            guard bytes.count <= maximum else {
                Sodium.wipe(&bytes)
                throw .fileTooLarge(path: path, maximum: maximum)
            }
        }
        Sodium.wipe(&chunk)
        return bytes
    }

    /// Writes all of `bytes` at `offset`.
    package func write(_ bytes: [UInt8], at offset: Int) throws(VaultError) {
        var failure: VaultError?
        bytes.withUnsafeBytes { raw in
            do throws(VaultError) { try write(raw, at: offset) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Writes all of `raw` at `offset`.
    package func write(_ raw: UnsafeRawBufferPointer, at offset: Int) throws(VaultError) {
        var done = 0
        while done < raw.count {
            do {
                done += try syscall {
                    pwrite(descriptor, raw.baseAddress! + done, raw.count - done, off_t(offset + done))
                }
            } catch {
                throw .io(operation: "write", path: path, errno: error.code)
            }
        }
    }

    package func truncate(to length: Int) throws(VaultError) {
        do { try syscall { ftruncate(descriptor, off_t(length)) } } catch {
            throw .io(operation: "truncate", path: path, errno: error.code)
        }
    }

    /// `fdatasync`. Its failure is reported as `syncFailed` and must never be retried.
    package func syncData() throws(VaultError) {
        if fdatasync(descriptor) != 0 { throw .syncFailed(path: path, errno: errno) }
        syncCount.add(1, ordering: .relaxed)
    }

    /// `fsync` (data and metadata). Its failure is reported as `syncFailed` and must never be retried.
    package func sync() throws(VaultError) {
        if fsync(descriptor) != 0 { throw .syncFailed(path: path, errno: errno) }
        syncCount.add(1, ordering: .relaxed)
    }

    /// `flock`, waiting at most `timeout` for the lock (`lockTimeout` after that); EINTR is retried.
    package func lock(exclusive: Bool, timeout: Duration) throws(VaultError) {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var pause: UInt32 = 1000
        while true {
            do {
                try syscall { flock(descriptor, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) }
                return
            } catch  where error.code == EWOULDBLOCK {
                guard clock.now < deadline else { throw .lockTimeout(path: path, seconds: timeout.components.seconds) }
                usleep(pause)
                pause = min(pause * 2, 50_000)
            } catch {
                throw .io(operation: "lock", path: path, errno: error.code)
            }
        }
    }

    package func unlock() {
        _ = flock(descriptor, LOCK_UN)
    }

    /// Gives the file mode `mode` (an existing file keeps its old mode through `O_TRUNC` otherwise).
    package func setMode(_ mode: UInt32) throws(VaultError) {
        do { try syscall { fchmod(descriptor, mode_t(mode)) } } catch {
            throw .io(operation: "chmod", path: path, errno: error.code)
        }
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
