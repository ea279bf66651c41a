import Testing
@testable import XenStore
import XenStoreTestSupport

/// What an unprivileged domain sees and may do, in the engine. (A socket
/// connection to the real daemon is always dom0, so these rules are checked
/// against cxenstored's source: `perm_for_conn`, `errno_from_parents`,
/// `construct_node`, `do_set_perms`, the quota checks.)
@Suite struct EnginePermissionTests {
    static let d5 = try! DomID(5), d6 = try! DomID(6)

    /// dom0 lays out: /t/open (r5), /t/secret (nobody), /t/shared (b5), /t/owned5 (owner 5).
    static func setUp() throws -> XenStoreEngine {
        let engine = XenStoreEngine()
        let dom0 = engine.connect()
        try dom0.introduceDomain(d5)
        try dom0.introduceDomain(d6)
        try dom0.write("/t/open", "v")
        try dom0.setPermissions("/t/open", XenStorePermissions("n0 r5"))
        try dom0.write("/t/secret", "s")
        try dom0.mkdir("/t/shared")
        try dom0.setPermissions("/t/shared", XenStorePermissions("n0 b5"))
        try dom0.write("/t/owned5", "mine")
        try dom0.setPermissions("/t/owned5", XenStorePermissions("n5"))
        return engine
    }

    struct Row: Sendable, CustomTestStringConvertible {
        let domain: Int
        let step: Step
        var testDescription: String { "dom\(domain): \(step)" }
        init(_ domain: Int, _ request: Step.Request, _ answer: Step.Answer = .ok) {
            self.domain = domain
            step = Step(request, answer)
        }
    }

    /// Rows run in order on one store; each row names the acting domain.
    static let rows: [Row] = [
        Row(5, .read("/t/open"), .value("v")),
        Row(6, .read("/t/open"), .error("EACCES")),
        Row(5, .read("/t/secret"), .error("EACCES")),
        Row(5, .read("/t/open/missing"), .error("ENOENT")),        // parent readable: the truth
        Row(5, .read("/t/secret/missing"), .error("EACCES")),      // parent hidden: no hint
        Row(5, .write("/t/open", "x"), .error("EACCES")),
        Row(5, .write("/t/secret/new", "x"), .error("EACCES")),
        Row(5, .write("/t/shared/new/deeper", "x")),
        Row(5, .getPermissions("/t/shared/new"), .permissions("n5 b5")),  // inherited, owned by creator
        Row(0, .read("/t/shared/new/deeper"), .value("x")),
        Row(5, .setPermissions("/t/shared/new", "n5 r6")),
        Row(6, .read("/t/shared/new"), .value("")),
        Row(5, .setPermissions("/t/shared/new", "n0"), .error("EPERM")),  // no giving away
        Row(5, .setPermissions("/t/open", "n0 b5"), .error("EACCES")),   // not the owner
        Row(5, .read("/t/owned5"), .value("mine")),
        Row(5, .write("/t/owned5", "changed")),
        Row(6, .rm("/t/shared/new"), .error("EACCES")),
        Row(5, .rm("/t/shared/new")),
        Row(5, .read("/t/shared/new/deeper"), .error("ENOENT")),
        Row(5, .directory("/t/shared"), .names([])),
        Row(5, .directory("/t"), .error("EACCES")),
        Row(5, .mkdir("/t/shared/m")),
        Row(5, .setPermissions("/t/shared/m", "n5 r1 r2 r3 r4 r6"), .error("ENOSPC")),  // 6 entries > 5
        Row(5, .setPermissions("/t/shared/m", "n5 r1 r2 r3 r6")),
    ]

    @Test func table() throws {
        let engine = try Self.setUp()
        let f = StoreFixture.absolute
        var connections: [Int: any XenStoreConnection] = [:]
        for (i, row) in Self.rows.enumerated() {
            let c = try connections[row.domain] ?? engine.connect(as: DomID(row.domain))
            connections[row.domain] = c
            #expect(row.step.run(c, f) == row.step.answer, "row \(i): \(row.testDescription)")
        }
    }

    @Test func watchEventsRespectReadPermission() async throws {
        let engine = try Self.setUp()
        let dom0 = engine.connect(), d5 = engine.connect(as: Self.d5)
        let rec = WatchRecorder(try d5.watch("/t"))
        try dom0.write("/t/secret", "changed")
        try dom0.write("/t/open", "changed")
        await rec.wait(for: 2)
        #expect(await rec.settle().map(\.path.rawValue) == ["/t", "/t/open"])
    }

    @Test func releaseClosesTheDomainsConnectionsAndRemovesWhatItOwned() throws {
        let engine = try Self.setUp()
        let dom0 = engine.connect(), d5 = engine.connect(as: Self.d5)
        try d5.write("/t/shared/by5", "x")
        try dom0.releaseDomain(Self.d5)
        #expect(throws: XenStoreError.self) { try d5.read("/t/open") }
        #expect(!(try dom0.exists("/t/owned5")))
        #expect(!(try dom0.exists("/t/shared/by5")))
        #expect(try dom0.exists("/t/shared"))
        #expect(try dom0.permissions("/t/open").description == "n0 r5")
    }

    @Test func onlyDom0IntroducesAndReleases() throws {
        let engine = try Self.setUp()
        let d5 = engine.connect(as: Self.d5)
        #expect(throws: XenStoreError.self) { try d5.introduceDomain(DomID(9)) }
        #expect(throws: XenStoreError.self) { try d5.releaseDomain(Self.d6) }
    }
}

@Suite struct EngineQuotaTests {
    static let d5 = try! DomID(5)

    func store(_ q: XenStoreQuotas) throws -> (XenStoreEngine, any XenStoreConnection) {
        let engine = XenStoreEngine(quotas: q)
        let dom0 = engine.connect()
        try dom0.introduceDomain(Self.d5)
        try dom0.mkdir("/q")
        try dom0.setPermissions("/q", XenStorePermissions("n0 b5"))
        return (engine, engine.connect(as: Self.d5))
    }

    @Test func nodesPerDomain() throws {
        let (engine, d5) = try store(XenStoreQuotas(entriesPerDomain: 3))
        try d5.write("/q/a", "1")
        try d5.write("/q/b", "1")
        // Two new nodes would be needed, one is left: refused whole.
        #expect(throws: XenStoreError.self) { try d5.write("/q/c/d", "1") }
        #expect(!(try engine.connect().exists("/q/c")))
        try d5.write("/q/c", "1")
        let r = Result { () throws(XenStoreError) in try d5.write("/q/e", "1") }
        #expect((try? r.get()) == nil)
        if case .failure(let e) = r { #expect(e.code == .noSpace) }
        // Overwriting costs nothing; removing gives room back.
        try d5.write("/q/a", "2")
        try d5.remove("/q/a")
        try d5.write("/q/e", "1")
        // dom0 is not counted.
        for i in 0..<10 { try engine.connect().write(try XenStorePath("/q/dom0-\(i)"), "x") }
    }

    @Test func entrySizeCountsHeaderPermissionsValueAndChildren() throws {
        let (_, d5) = try store(.cxenstored)
        // 24 + 8 × 2 permissions + value: 2007 bytes is 2047, under 2048.
        try d5.write("/q/v", [UInt8](repeating: 65, count: 2007))
        #expect(throws: XenStoreError.self) { try d5.write("/q/v", [UInt8](repeating: 65, count: 2008)) }
    }

    @Test func transactionsPerConnection() throws {
        let (_, d5) = try store(XenStoreQuotas(transactionsPerDomain: 2))
        let t1 = try d5.startTransaction(), t2 = try d5.startTransaction()
        #expect(throws: XenStoreError.self) { try d5.startTransaction() }
        try d5.endTransaction(t1, commit: false)
        _ = try d5.startTransaction()
        try d5.endTransaction(t2, commit: true)
    }

    @Test func watchesPerDomainAllowOneOverLikeCxenstored() throws {
        let (_, d5) = try store(XenStoreQuotas(watchesPerDomain: 2))
        let w = try (0..<3).map { _ in try d5.watch("/q") }
        #expect(throws: XenStoreError.self) { try d5.watch("/q") }
        w[0].cancel()
        _ = try d5.watch("/q")
    }

    @Test func transactionsOfOtherConnectionsAreNotYours() throws {
        let (engine, d5) = try store(.cxenstored)
        let t = try engine.connect().startTransaction()
        let r = Result { () throws(XenStoreError) in try d5.read("/q", transaction: t) }
        if case .failure(let e) = r { #expect(e.code == .notFound) } else { Issue.record("read in a foreign transaction") }
    }
}

extension StoreFixture {
    /// For tables that spell absolute paths.
    static let absolute = try! Backend.engine.fixture()
}
