#if canImport(Glibc)
import Glibc
#endif

/// A thread that waits until a descriptor is readable and then runs a callback.
///
/// libxenstore signals queued watch events by making `xs_fileno` readable; this
/// thread turns that into calls to a drain function, so watch delivery never
/// depends on the caller polling. `stop()` wakes it through a pipe and joins it.
///
/// With `idle`, the thread also runs `idle.body` after `idle.milliseconds`
/// without the descriptor becoming readable, and ends when it answers false.
/// A descriptor that never becomes readable again tells nothing by itself
/// (libxenstore's pipe stays silent when the daemon dies); the owner uses
/// this to look.
final class WatchReader: @unchecked Sendable {
    // Unchecked: `thread` is written once in init and read once in stop(),
    // which the owner calls under its own lock.
    private var thread: pthread_t
    private let wake: (read: Int32, write: Int32)

    typealias Idle = (milliseconds: Int32, body: @Sendable () -> Bool)

    private final class Work {
        let fd: Int32
        let wake: Int32
        let onReadable: @Sendable () -> Void
        let idle: Idle?
        init(fd: Int32, wake: Int32, onReadable: @escaping @Sendable () -> Void, idle: Idle?) {
            self.fd = fd
            self.wake = wake
            self.onReadable = onReadable
            self.idle = idle
        }

        func run() {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            while true {
                fds[0].revents = 0
                fds[1].revents = 0
                let n = poll(&fds, 2, idle?.milliseconds ?? -1)
                if n < 0 { if errno == EINTR { continue }; return }
                if n == 0 {
                    if let idle, !idle.body() { return }
                    continue
                }
                if fds[1].revents != 0 { return }
                if fds[0].revents & Int16(POLLIN) != 0 { onReadable() }
                if fds[0].revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { return }
            }
        }
    }

    init(fd: Int32, idle: Idle? = nil, onReadable: @escaping @Sendable () -> Void) throws(XenStoreError) {
        var p: [Int32] = [0, 0]
        guard pipe(&p) == 0 else {
            throw XenStoreError(.ioError, .watch, detail: "pipe: \(String(cString: strerror(errno)))")
        }
        _ = fcntl(p[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(p[1], F_SETFD, FD_CLOEXEC)
        wake = (p[0], p[1])
        let work = Unmanaged.passRetained(Work(fd: fd, wake: p[0], onReadable: onReadable, idle: idle))
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let work = Unmanaged<Work>.fromOpaque(arg!).takeRetainedValue()
            work.run()
            return nil
        }, work.toOpaque())
        guard rc == 0 else {
            work.release()
            Glibc.close(p[0])
            Glibc.close(p[1])
            throw XenStoreError(.ioError, .watch, detail: "pthread_create: \(rc)")
        }
        thread = t
    }

    func stop() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
        pthread_join(thread, nil)
        Glibc.close(wake.read)
        Glibc.close(wake.write)
    }
}
