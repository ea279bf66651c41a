import Foundation
import Testing
import XenStore
import XenStoreTestSupport

/// What only the libxenstore backend has to get right: sockets, threads,
/// and a daemon that goes away.
@Suite struct LibXenStoreTests {
    @Test func noDaemonIsUnreachable() {
        do {
            _ = try LibXenStoreConnection(socketPath: "/nonexistent/socket")
            Issue.record("connected to nothing")
        } catch {
            #expect(error.code == .unreachable)
            #expect(error.path == "/nonexistent/socket")
        }
    }

    @Test func closedConnectionFailsCleanly() throws {
        let c = try RealXenStored.shared().connect()
        c.close()
        do {
            _ = try c.read("/tool")
            Issue.record("read on a closed connection")
        } catch {
            #expect(error.code == .unreachable)
        }
        c.close()
    }

    @Test func daemonThatDiesGivesErrorsNotCrashes() async throws {
        let daemon = try RealXenStored.start()
        let c = try daemon.connect()
        try c.write("/x", "1")
        let watch = try c.watch("/x")
        daemon.stop()
        var failures = 0
        for _ in 0..<3 {
            do { _ = try c.read("/x") } catch { failures += 1; #expect(error.code == .unreachable || error.code == .ioError) }
        }
        #expect(failures == 3)
        watch.cancel()
        c.close()
    }

    @Test func everyByteValueSurvives() throws {
        let f = try Backend.xenstored.fixture()
        let c = try f.connect()
        let bytes = (0...255).map { UInt8($0) }
        try c.write(f.path("binary"), bytes)
        #expect(try c.read(f.path("binary")) == bytes)
        // And text readers never trap on it.
        _ = try c.readString(f.path("binary"))
    }

    @Test func oneConnectionFromManyThreads() async throws {
        let f = try Backend.xenstored.fixture()
        let c = try f.connect()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<8 {
                group.addTask {
                    for i in 0..<50 {
                        let p = try f.path("threads/t\(t)/n\(i)")
                        try c.write(p, "\(t)-\(i)")
                        #expect(try c.readString(p) == "\(t)-\(i)")
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try c.directory(f.path("threads")).count == 8)
    }

    @Test func eventsGoToTheirOwnWatch() async throws {
        let f = try Backend.xenstored.fixture()
        let c = try f.connect()
        try c.mkdir(f.path("one"))
        try c.mkdir(f.path("two"))
        let one = WatchRecorder(try c.watch(f.path("one")))
        let two = WatchRecorder(try c.watch(f.path("two")))
        for i in 0..<20 { try c.write(f.path(i % 2 == 0 ? "one/x" : "two/x"), "\(i)") }
        #expect(await one.wait(for: 11).count == 11)
        #expect(await two.wait(for: 11).count == 11)
        #expect(one.paths.dropFirst().allSatisfy { $0.hasSuffix("/one/x") })
        #expect(two.paths.dropFirst().allSatisfy { $0.hasSuffix("/two/x") })
    }
}
