#if canImport(Glibc)
import Glibc
#endif

/// Where a persistent engine keeps its store: a snapshot file replaced
/// atomically (write a temporary, fsync, rename) while holding `flock` on a
/// lock file beside it, so two processes never interleave or tear a write.
final class EngineFile: Sendable {
    let path: String
    private let lockDescriptor: Int32

    /// Identity of the file last loaded; a different one means another process wrote it.
    struct Stamp: Equatable, Sendable {
        var inode: UInt64
        var size: Int64
        var seconds: Int
        var nanoseconds: Int
    }

    init(path: String) throws(XenStoreError) {
        self.path = path
        let fd = open(path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Self.failure("cannot open \(path).lock") }
        lockDescriptor = fd
    }

    deinit { close(lockDescriptor) }

    static func failure(_ what: String) -> XenStoreError {
        XenStoreError(.ioError, .persist, detail: "\(what): \(String(cString: strerror(errno)))")
    }

    /// Runs `body` holding the file lock (exclusive: writers and readers alike
    /// may reload and must see one consistent file).
    func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        while flock(lockDescriptor, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(lockDescriptor, LOCK_UN) }
        return try body()
    }

    func stamp() -> Stamp? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Stamp(inode: UInt64(st.st_ino), size: Int64(st.st_size),
                     seconds: st.st_mtim.tv_sec, nanoseconds: st.st_mtim.tv_nsec)
    }

    /// The file's bytes, or nil when it does not exist yet.
    func load() throws(XenStoreError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw Self.failure("cannot open \(path)")
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw Self.failure("cannot read \(path)") }
            if n == 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return out
    }

    func save(_ bytes: [UInt8]) throws(XenStoreError) {
        let temporary = "\(path).tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Self.failure("cannot create \(temporary)") }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = Self.failure("cannot write \(temporary)")
                close(fd)
                unlink(temporary)
                throw e
            }
            offset += n
        }
        guard fsync(fd) == 0, close(fd) == 0 else {
            let e = Self.failure("cannot sync \(temporary)")
            unlink(temporary)
            throw e
        }
        guard rename(temporary, path) == 0 else {
            let e = Self.failure("cannot replace \(path)")
            unlink(temporary)
            throw e
        }
    }
}
