import Testing
import XenStore
import XenStoreTestSupport

/// Random operation sequences run step by step on the embedded engine and on
/// the real xenstored; every answer and every watch event must be the same.
/// This is the conformance table's wide net: it finds the cases nobody wrote down.
@Suite struct DifferentialTests {
    enum Op: CustomStringConvertible {
        case write(Int, String, String), read(Int, String), mkdir(Int, String), rm(Int, String)
        case directory(Int, String), getPerms(Int, String), setPerms(Int, String, String)
        case begin(Int), commit(Int), abort(Int)

        var description: String {
            switch self {
            case .write(let c, let p, let v): "c\(c) write \(p)=\(v)"
            case .read(let c, let p): "c\(c) read \(p)"
            case .mkdir(let c, let p): "c\(c) mkdir \(p)"
            case .rm(let c, let p): "c\(c) rm \(p)"
            case .directory(let c, let p): "c\(c) dir \(p)"
            case .getPerms(let c, let p): "c\(c) getperms \(p)"
            case .setPerms(let c, let p, let s): "c\(c) setperms \(p) \(s)"
            case .begin(let c): "c\(c) begin"
            case .commit(let c): "c\(c) commit"
            case .abort(let c): "c\(c) abort"
            }
        }
    }

    static func program(seed: UInt64, count: Int) -> [Op] {
        var rng = SplitMix(state: seed)
        let names = ["a", "b", "c"]
        func path() -> String {
            (0..<Int.random(in: 1...3, using: &rng)).map { _ in names.randomElement(using: &rng)! }.joined(separator: "/")
        }
        var ops: [Op] = []
        var open = [false, false]
        for i in 0..<count {
            let c = Int.random(in: 0...1, using: &rng)
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<30: ops.append(.write(c, path(), "v\(i)"))
            case 30..<45: ops.append(.read(c, path()))
            case 45..<52: ops.append(.mkdir(c, path()))
            case 52..<62: ops.append(.rm(c, path()))
            case 62..<72: ops.append(.directory(c, path()))
            case 72..<76: ops.append(.getPerms(c, path()))
            case 76..<80: ops.append(.setPerms(c, path(), ["n0", "r0", "b0 r0", "w0 n0"].randomElement(using: &rng)!))
            default:
                if open[c] {
                    ops.append(Bool.random(using: &rng) ? .commit(c) : .abort(c))
                } else {
                    ops.append(.begin(c))
                }
                open[c].toggle()
            }
        }
        return ops
    }

    final class Runner {
        let f: StoreFixture
        let conns: [any XenStoreConnection]
        var tx: [XenStoreTransactionID] = [.none, .none]
        init(_ f: StoreFixture) throws {
            self.f = f
            conns = [try f.connect(), try f.connect()]
            try conns[0].mkdir(f.root)
        }

        func run(_ op: Op) -> String {
            func rel(_ p: String) throws -> XenStorePath { try f.path(p) }
            do {
                switch op {
                case .write(let c, let p, let v): try conns[c].write(rel(p), Array(v.utf8), transaction: tx[c])
                case .read(let c, let p):
                    return String(decoding: try conns[c].read(rel(p), transaction: tx[c]), as: UTF8.self)
                case .mkdir(let c, let p): try conns[c].mkdir(rel(p), transaction: tx[c])
                case .rm(let c, let p): try conns[c].remove(rel(p), transaction: tx[c])
                case .directory(let c, let p):
                    return try conns[c].directory(rel(p), transaction: tx[c]).map(\.rawValue).joined(separator: ",")
                case .getPerms(let c, let p): return try conns[c].permissions(rel(p), transaction: tx[c]).description
                case .setPerms(let c, let p, let s):
                    try conns[c].setPermissions(rel(p), XenStorePermissions(s), transaction: tx[c])
                case .begin(let c): tx[c] = try conns[c].startTransaction()
                case .commit(let c), .abort(let c):
                    let t = tx[c]
                    tx[c] = .none
                    if case .commit = op { try conns[c].endTransaction(t, commit: true) } else {
                        try conns[c].endTransaction(t, commit: false)
                    }
                }
                return "ok"
            } catch let e as XenStoreError {
                return e.code.name
            } catch {
                return "\(error)"
            }
        }
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func sameAnswersAndEvents(seed: UInt64) async throws {
        let program = Self.program(seed: seed, count: 400)
        let engine = try Runner(Backend.engine.fixture())
        let daemon = try Runner(Backend.xenstored.fixture())
        let watchers = [
            WatchRecorder(try engine.conns[0].watch(engine.f.root)),
            WatchRecorder(try daemon.conns[0].watch(daemon.f.root)),
        ]
        var answers: [String] = []
        for (i, op) in program.enumerated() {
            let a = engine.run(op), b = daemon.run(op)
            answers.append(a)
            #expect(a == b, "step \(i) \(op): engine \(a), xenstored \(b)")
            if a != b { break }
        }
        let counts = [await watchers[0].settle(seconds: 0.5).count, await watchers[1].settle(seconds: 0.5).count]
        func relative(_ r: WatchRecorder, _ f: StoreFixture) -> [String] {
            r.paths.map { String($0.dropFirst(f.root.rawValue.count)) }
        }
        // The program must reach the interesting answers, or it proves little.
        #expect(answers.contains("EAGAIN") && answers.contains("ENOENT") && counts[0] > 50)
        #expect(counts[0] == counts[1])
        #expect(relative(watchers[0], engine.f) == relative(watchers[1], daemon.f))
    }
}
