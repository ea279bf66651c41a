import Testing
import XenStore
import XenStoreTestSupport

/// One request and the answer XenStore gives to it, as in ocaml-xenstore's
/// tables. Paths are relative to the fixture's root unless they start with
/// `/` or `@`.
struct Step: CustomStringConvertible, Sendable {
    enum Request: Sendable {
        case write(String, String)
        case writeBytes(String, count: Int)
        case read(String)
        case mkdir(String)
        case rm(String)
        case directory(String)
        case getPermissions(String)
        case setPermissions(String, String)
    }

    enum Answer: Equatable, Sendable {
        case ok
        case value(String)
        case names([String])
        case permissions(String)
        case error(String)
    }

    let request: Request
    let answer: Answer
    init(_ request: Request, _ answer: Answer = .ok) {
        self.request = request
        self.answer = answer
    }
    var description: String { "\(request) → \(answer)" }

    func run(_ c: any XenStoreConnection, _ f: StoreFixture) -> Answer {
        do {
            switch request {
            case .write(let p, let v): try c.write(f.path(p), v)
            case .writeBytes(let p, let n): try c.write(f.path(p), [UInt8](repeating: UInt8(ascii: "x"), count: n))
            case .read(let p): return .value(String(decoding: try c.read(f.path(p)), as: UTF8.self))
            case .mkdir(let p): try c.mkdir(f.path(p))
            case .rm(let p): try c.remove(f.path(p))
            case .directory(let p): return .names(try c.directory(f.path(p)).map(\.rawValue))
            case .getPermissions(let p): return .permissions(try c.permissions(f.path(p)).description)
            case .setPermissions(let p, let s): try c.setPermissions(f.path(p), XenStorePermissions(s))
            }
            return .ok
        } catch let e as XenStoreError {
            return .error(e.code.name)
        } catch {
            return .error("\(error)")
        }
    }
}

struct Case: CustomTestStringConvertible, Sendable {
    let name: String
    let steps: [Step]
    init(_ name: String, _ steps: [Step]) {
        self.name = name
        self.steps = steps
    }
    var testDescription: String { name }
}

let long2100 = (0..<44).map { _ in "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstu" }.joined(separator: "/")

let cases: [Case] = [
    Case("write then read", [Step(.write("a", "1")), Step(.read("a"), .value("1"))]),
    Case("overwrite", [Step(.write("a", "1")), Step(.write("a", "22")), Step(.read("a"), .value("22"))]),
    Case("empty value", [Step(.write("a", "")), Step(.read("a"), .value(""))]),
    Case("missing parents are created empty", [
        Step(.write("a/b/c", "x")), Step(.read("a/b"), .value("")), Step(.read("a"), .value("")),
        Step(.directory("a"), .names(["b"])), Step(.directory("a/b"), .names(["c"])),
    ]),
    Case("read of a missing node", [Step(.mkdir("")), Step(.read("nope"), .error("ENOENT"))]),
    Case("read below a missing node", [Step(.read("nope/deeper/still"), .error("ENOENT"))]),
    Case("directory of a missing node", [Step(.directory("nope"), .error("ENOENT"))]),
    Case("directory keeps creation order", [
        Step(.write("d/zeta", "")), Step(.write("d/alpha", "")), Step(.write("d/mid", "")),
        Step(.write("d/alpha", "again")), Step(.directory("d"), .names(["zeta", "alpha", "mid"])),
    ]),
    Case("mkdir creates, and keeps an existing value", [
        Step(.mkdir("m/n")), Step(.read("m/n"), .value("")), Step(.write("m/n", "v")),
        Step(.mkdir("m/n")), Step(.read("m/n"), .value("v")),
    ]),
    Case("rm removes the whole subtree", [
        Step(.write("t/a/b/c", "1")), Step(.write("t/a/d", "2")), Step(.write("t/e", "3")),
        Step(.rm("t/a")), Step(.read("t/a/b/c"), .error("ENOENT")), Step(.read("t/a"), .error("ENOENT")),
        Step(.directory("t"), .names(["e"])),
    ]),
    Case("rm of a missing node whose parent exists", [Step(.mkdir("p")), Step(.rm("p/nope"))]),
    Case("rm of a missing node whose parent is missing", [Step(.rm("nope/child"), .error("ENOENT"))]),
    Case("rm of the root", [Step(.rm("/"), .error("EINVAL"))]),
    Case("special paths are not nodes", [
        Step(.read("@releaseDomain"), .error("EINVAL")), Step(.write("@introduceDomain", "x"), .error("EINVAL")),
        Step(.directory("@releaseDomain"), .error("EINVAL")),
    ]),
    Case("path over 2048 bytes outside /local/domain/N", [Step(.write("/" + long2100, "x"), .error("EINVAL"))]),
    Case("the 2048 bytes count after /local/domain/N/", [
        Step(.write("/local/domain/7/" + long2100.prefix(2040), "x")),
        Step(.read("/local/domain/7/" + long2100.prefix(2040)), .value("x")),
        Step(.rm("/local/domain/7")),
    ]),
    Case("a value that fills the payload", [
        // path + NUL + value must fit 4096 bytes.
        Step(.writeBytes("v", count: 4000)), Step(.writeBytes("v", count: 5000), .error("E2BIG")),
    ]),
    Case("dom0 is not held to the entry-size quota", [Step(.writeBytes("big", count: 3000))]),
    Case("new nodes inherit the parent's permissions", [
        Step(.mkdir("perm")), Step(.setPermissions("perm", "n0 r0")),
        Step(.write("perm/child/grandchild", "x")),
        Step(.getPermissions("perm/child"), .permissions("n0 r0")),
        Step(.getPermissions("perm/child/grandchild"), .permissions("n0 r0")),
    ]),
    Case("permissions round trip", [
        Step(.write("pr", "x")), Step(.setPermissions("pr", "r0 w0 b0 n0")),
        Step(.getPermissions("pr"), .permissions("r0 w0 b0 n0")),
    ]),
    Case("permissions of a missing node", [Step(.getPermissions("nope"), .error("ENOENT"))]),
    Case("dom0 is not held to the permissions-per-node quota", [
        Step(.write("many", "x")), Step(.setPermissions("many", "n0 r0 r0 r0 r0 r0 r0 r0")),
    ]),
]

@Suite("XenStore semantics on both backends")
struct ConformanceTests {
    @Test(arguments: Backend.allCases, cases)
    func table(_ backend: Backend, _ c: Case) throws {
        let f = try backend.fixture()
        let conn = try f.connect()
        for (i, step) in c.steps.enumerated() {
            let got = step.run(conn, f)
            #expect(got == step.answer, "step \(i): \(step)")
        }
    }

    @Test(arguments: Backend.allCases)
    func directoryOfManyChildren(_ backend: Backend) throws {
        // 1,200 names × ~12 bytes is over one 4096-byte reply: libxenstore
        // must fall back to DIRECTORY_PART on the daemon.
        let f = try backend.fixture()
        let c = try f.connect()
        let names = (0..<1200).map { "device-\(1000 + $0)" }
        try c.transaction { tx in
            for n in names { try tx.write(try f.path("many/\(n)"), "") }
        }
        #expect(try c.directory(f.path("many")).map(\.rawValue) == names)
    }

    @Test(arguments: Backend.allCases)
    func invalidNodeNamesAreRejectedAtTheEdge(_ backend: Backend) throws {
        // A variable, not a literal: `XenStorePath("…")` would be a literal coercion.
        let text = "/local/pci/0000:03:00.0"
        #expect(throws: XenStoreError.self) { try XenStorePath(text) }
        do throws(XenStoreError) {
            _ = try XenStorePath(text)
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.description.contains("':' at offset 15"))
        }
    }

    // MARK: Transactions

    @Test(arguments: Backend.allCases)
    func transactionWritesAreInvisibleUntilCommit(_ backend: Backend) throws {
        let f = try backend.fixture()
        let c = try f.connect(), other = try f.connect()
        try c.mkdir(f.root)
        let t = try c.startTransaction()
        try c.write(f.path("tx/a"), Array("1".utf8), transaction: t)
        #expect(String(decoding: try c.read(f.path("tx/a"), transaction: t), as: UTF8.self) == "1")
        #expect(throws: XenStoreError.self) { try other.read(f.path("tx/a")) }
        #expect(throws: XenStoreError.self) { try c.read(f.path("tx/a")) }
        try c.endTransaction(t, commit: true)
        #expect(try other.readString(f.path("tx/a")) == "1")
    }

    @Test(arguments: Backend.allCases)
    func abortDiscards(_ backend: Backend) throws {
        let f = try backend.fixture()
        let c = try f.connect()
        try c.write(f.path("keep"), "old")
        let t = try c.startTransaction()
        try c.write(f.path("keep"), Array("new".utf8), transaction: t)
        try c.remove(f.path("keep"), transaction: t)
        try c.endTransaction(t, commit: false)
        #expect(try c.readString(f.path("keep")) == "old")
    }

    @Test(arguments: Backend.allCases)
    func conflictOnANodeReadIsEAGAIN(_ backend: Backend) throws {
        let f = try backend.fixture()
        let c = try f.connect(), other = try f.connect()
        try c.write(f.path("a"), "1")
        try c.write(f.path("b"), "1")
        let t = try c.startTransaction()
        _ = try c.read(f.path("a"), transaction: t)
        try other.write(f.path("a"), "2")
        try c.write(f.path("b"), Array("from-tx".utf8), transaction: t)
        #expect(throws: XenStoreError.self) { try c.endTransaction(t, commit: true) }
        #expect(try c.readString(f.path("b")) == "1")
    }

    @Test(arguments: Backend.allCases)
    func aWriteLooksTheNodeUpFirstSoItConflictsToo(_ backend: Backend) throws {
        let f = try backend.fixture()
        let c = try f.connect(), other = try f.connect()
        try c.write(f.path("w"), "1")
        let t = try c.startTransaction()
        try c.write(f.path("w"), Array("tx".utf8), transaction: t)
        try other.write(f.path("w"), "outside")
        let result = Result { () throws(XenStoreError) in try c.endTransaction(t, commit: true) }
        #expect(result.failureCode == .tryAgain)
        #expect(try c.readString(f.path("w")) == "outside")
    }

    @Test(arguments: Backend.allCases)
    func readingAMissingNodeConflictsWithItsCreation(_ backend: Backend) throws {
        let f = try backend.fixture()
        let c = try f.connect(), other = try f.connect()
        try c.mkdir(f.root)
        let t = try c.startTransaction()
        #expect(throws: XenStoreError.self) { try c.read(f.path("later"), transaction: t) }
        try other.write(f.path("later"), "x")
        try c.write(f.path("marker"), Array("y".utf8), transaction: t)
        let result = Result { () throws(XenStoreError) in try c.endTransaction(t, commit: true) }
        #expect(result.failureCode == .tryAgain)
    }

    @Test(arguments: Backend.allCases)
    func untouchedNodesDoNotConflict(_ backend: Backend) throws {
        let f = try backend.fixture()
        let c = try f.connect(), other = try f.connect()
        for n in ["a", "b", "c"] { try c.write(f.path(n), "0") }
        let t = try c.startTransaction()
        _ = try c.read(f.path("a"), transaction: t)
        try c.write(f.path("b"), Array("tx".utf8), transaction: t)
        try other.write(f.path("c"), "outside")
        try c.endTransaction(t, commit: true)
        #expect(try c.readString(f.path("b")) == "tx")
    }

    @Test(arguments: Backend.allCases)
    func unknownTransactionIsENOENT(_ backend: Backend) throws {
        let f = try backend.fixture()
        let c = try f.connect()
        let result = Result { () throws(XenStoreError) in try c.endTransaction(XenStoreTransactionID(987_654), commit: true) }
        #expect(result.failureCode == .notFound)
    }

    @Test(arguments: Backend.allCases)
    func helperRetriesTheWholeClosureOnConflict(_ backend: Backend) throws {
        let f = try backend.fixture()
        let c = try f.connect(), other = try f.connect()
        try c.write(f.path("counter"), "0")
        var attempts = 0
        try c.transaction { tx in
            attempts += 1
            let v = Int(try tx.readString(f.path("counter")))!
            if attempts == 1 { try other.write(f.path("counter"), "10") }
            try tx.write(f.path("counter"), String(v + 1))
        }
        #expect(attempts == 2)
        #expect(try c.readString(f.path("counter")) == "11")
    }

    @Test(arguments: Backend.allCases)
    func helperGivesUpWithADistinctError(_ backend: Backend) throws {
        let f = try backend.fixture()
        let c = try f.connect(), other = try f.connect()
        try c.write(f.path("hot"), "0")
        var attempts = 0
        do {
            try c.transaction(policy: XenStoreRetryPolicy(maxAttempts: 3, initialDelayMicroseconds: 10)) { tx in
                attempts += 1
                _ = try tx.read(f.path("hot"))
                try other.write(f.path("hot"), String(attempts))
            }
            Issue.record("expected retriesExhausted")
        } catch let e as XenStoreError {
            #expect(e.code == .retriesExhausted)
        }
        #expect(attempts == 3)
    }

    @Test(arguments: Backend.allCases)
    func aClosureThatSaysEAGAINIsRunAgain(_ backend: Backend) throws {
        let f = try backend.fixture()
        let c = try f.connect()
        // The test's own directory first: created inside the transaction, it
        // would change /conformance, which other tests change too, and a
        // real conflict would add an attempt.
        try c.mkdir(f.root)
        var attempts = 0
        let v: Int = try c.transaction { tx in
            attempts += 1
            try tx.write(f.path("again"), String(attempts))
            if attempts < 3 { throw XenStoreError(.tryAgain, .read, detail: "inconsistent view") }
            return attempts
        }
        #expect(v == 3)
        #expect(try c.readString(f.path("again")) == "3")
    }

    @Test(arguments: Backend.allCases)
    func helperAbortsWhenTheClosureThrows(_ backend: Backend) throws {
        struct Refused: Error {}
        let f = try backend.fixture()
        let c = try f.connect()
        try c.write(f.path("x"), "before")
        #expect(throws: Refused.self) {
            try c.transaction { tx in
                try tx.write(f.path("x"), "during")
                throw Refused()
            }
        }
        #expect(try c.readString(f.path("x")) == "before")
    }

    // MARK: Watches

    @Test(arguments: Backend.allCases)
    func watchFiresOnRegistrationThenForTheSubtree(_ backend: Backend) async throws {
        let f = try backend.fixture()
        let c = try f.connect()
        try c.mkdir(f.path("w"))
        let rec = WatchRecorder(try c.watch(f.path("w")))
        // cxenstored drops an event identical to one still queued for the
        // connection (same path and token): a write to `w` while the
        // registration event waits in its queue would be folded into it.
        await rec.wait(for: 1)
        try c.write(f.path("w/x/y"), "1")
        try c.write(f.path("elsewhere"), "1")
        try c.write(f.path("w"), "2")
        let got = await rec.wait(for: 3)
        #expect(got.map(\.path) == [try f.path("w"), try f.path("w/x/y"), try f.path("w")])
        #expect(await rec.settle().count == 3)
    }

    @Test(arguments: Backend.allCases)
    func watchOnAMissingPathFiresWhenItAppears(_ backend: Backend) async throws {
        let f = try backend.fixture()
        let c = try f.connect()
        let rec = WatchRecorder(try c.watch(f.path("later/deep")))
        try c.write(f.path("later/deep/node"), "1")
        let got = await rec.wait(for: 2)
        #expect(got.map(\.path) == [try f.path("later/deep"), try f.path("later/deep/node")])
    }

    @Test(arguments: Backend.allCases)
    func transactionalWritesFireOnlyAtCommit(_ backend: Backend) async throws {
        let f = try backend.fixture()
        let c = try f.connect(), other = try f.connect()
        // The marker exists beforehand: creating it during the transaction
        // would change `w`, which the transaction read, and cost an EAGAIN.
        try c.write(f.path("w/marker"), "before")
        let rec = WatchRecorder(try other.watch(f.path("w")))
        await rec.wait(for: 1)
        let t = try c.startTransaction()
        try c.write(f.path("w/in-tx"), Array("1".utf8), transaction: t)
        try c.write(f.path("w/marker"), "outside")
        await rec.wait(for: 2)
        #expect(rec.paths == [try f.path("w").rawValue, try f.path("w/marker").rawValue])
        try c.endTransaction(t, commit: true)
        await rec.wait(for: 3)
        #expect(rec.paths.last == (try f.path("w/in-tx")).rawValue)
        #expect(await rec.settle().count == 3)
    }

    @Test(arguments: Backend.allCases)
    func abortedTransactionFiresNothing(_ backend: Backend) async throws {
        let f = try backend.fixture()
        let c = try f.connect()
        try c.mkdir(f.path("w"))
        let rec = WatchRecorder(try c.watch(f.path("w")))
        let t = try c.startTransaction()
        try c.write(f.path("w/x"), Array("1".utf8), transaction: t)
        try c.endTransaction(t, commit: false)
        #expect(await rec.settle().count == 1)
    }

    @Test(arguments: Backend.allCases)
    func rmFiresAtTheRootAndOnExactWatchesBelow(_ backend: Backend) async throws {
        let f = try backend.fixture()
        let c = try f.connect()
        try c.write(f.path("r/a/b"), "1")
        try c.write(f.path("r/c"), "1")
        let above = WatchRecorder(try c.watch(f.path("r")))
        let below = WatchRecorder(try c.watch(f.path("r/a/b")))
        await above.wait(for: 1)
        await below.wait(for: 1)
        try c.remove(f.path("r/a"))
        await above.wait(for: 2)
        await below.wait(for: 2)
        // The watch above hears about the removed root only; the exact watch
        // on a removed descendant hears its own path.
        #expect(await above.settle().map(\.path) == [try f.path("r"), try f.path("r/a")])
        #expect(below.paths == [try f.path("r/a/b").rawValue, try f.path("r/a/b").rawValue])
    }

    @Test(arguments: Backend.allCases)
    func cancelledWatchStopsAndEnds(_ backend: Backend) async throws {
        let f = try backend.fixture()
        let c = try f.connect()
        try c.mkdir(f.path("w"))
        let watch = try c.watch(f.path("w"))
        var it = watch.makeAsyncIterator()
        #expect(await it.next()?.path == (try f.path("w")))
        watch.cancel()
        try c.write(f.path("w/after"), "1")
        #expect(await it.next() == nil)
    }

    @Test(arguments: Backend.allCases)
    func permissionChangeFires(_ backend: Backend) async throws {
        let f = try backend.fixture()
        let c = try f.connect()
        try c.write(f.path("p"), "1")
        let rec = WatchRecorder(try c.watch(f.path("p")))
        // Past the registration event, or cxenstored may fold the change's
        // event into it while it still waits in the queue (same path and token).
        await rec.wait(for: 1)
        try c.setPermissions(f.path("p"), XenStorePermissions("n0 r0"))
        let got = await rec.wait(for: 2)
        #expect(got.count == 2, "\(got)")
    }

    @Test(arguments: Backend.allCases)
    func introduceAndReleaseFireSpecialWatches(_ backend: Backend) async throws {
        let f = try backend.fixture()
        let c = try f.connect()
        let domain = try DomID(100 + Int(f.root.rawValue.utf8.count % 50) + (backend == .engine ? 0 : 1000))
        let intro = WatchRecorder(try c.watch(.introduceDomain))
        let release = WatchRecorder(try c.watch(.releaseDomain))
        await intro.wait(for: 1)
        await release.wait(for: 1)
        #expect(try c.isDomainIntroduced(domain) == false)
        #expect(try c.isDomainIntroduced(.dom0))
        try c.introduceDomain(domain)
        #expect(await intro.wait(for: 2).map(\.path) == [.introduceDomain, .introduceDomain])
        #expect(try c.isDomainIntroduced(domain))
        // A node the domain owns goes with it.
        try c.write(f.path("owned"), "x")
        try c.setPermissions(f.path("owned"), XenStorePermissions(owner: domain))
        try c.releaseDomain(domain)
        #expect(await release.wait(for: 2).map(\.path) == [.releaseDomain, .releaseDomain])
        #expect(!(try c.exists(f.path("owned"))))
        #expect(try c.isDomainIntroduced(domain) == false)
        let again = Result { () throws(XenStoreError) in try c.releaseDomain(domain) }
        #expect(again.failureCode == .notFound)
    }

    @Test(arguments: Backend.allCases)
    func ownerMustBeAKnownDomain(_ backend: Backend) throws {
        let f = try backend.fixture()
        let c = try f.connect()
        try c.write(f.path("o"), "x")
        let stranger = try DomID(31_000)
        let path = try f.path("o")
        let r = Result { () throws(XenStoreError) in
            try c.setPermissions(path, XenStorePermissions(owner: stranger))
        }
        #expect(r.failureCode == .notFound)
    }
}

extension Result where Failure == XenStoreError {
    var failureCode: XenStoreError.Code? {
        if case .failure(let e) = self { return e.code }
        return nil
    }
}
