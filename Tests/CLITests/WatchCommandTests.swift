import Foundation
import Testing
import PCITestSupport
import XenStore
import XenStoreTestSupport

/// `pcistore watch`, run as an admin would: its lines, their contract
/// (`schema/events.schema.json`, explained in `schema/events.md`), and a
/// clean end on SIGTERM and SIGINT.
@Suite struct WatchCommandTests {
    /// `pcistore watch` as a child process, its stdout and stderr collected
    /// line by line on readers of their own, so waiting has a deadline.
    final class WatchProcess: @unchecked Sendable {
        let process = Process()
        private let out = Pipe(), err = Pipe()
        private let lock = NSLock()
        private var text = "", errors = ""

        init(_ arguments: [String], environment: [String: String]) throws {
            process.executableURL = URL(fileURLWithPath: CLI.binary)
            process.arguments = ["watch"] + arguments
            process.environment = environment
            process.standardOutput = out
            process.standardError = err
            out.fileHandleForReading.readabilityHandler = { [self] fh in
                let d = fh.availableData
                lock.lock()
                text += String(decoding: d, as: UTF8.self)
                lock.unlock()
            }
            err.fileHandleForReading.readabilityHandler = { [self] fh in
                let d = fh.availableData
                lock.lock()
                errors += String(decoding: d, as: UTF8.self)
                lock.unlock()
            }
            try process.run()
        }

        deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        var lines: [String] {
            lock.lock()
            defer { lock.unlock() }
            return text.split(separator: "\n").map(String.init)
        }

        var stderr: String {
            lock.lock()
            defer { lock.unlock() }
            return errors
        }

        /// Waits until `done` holds for the lines so far, or `seconds` passed.
        /// It sleeps as a task, never blocking a thread other tests' tasks need.
        @discardableResult
        func wait(seconds: Double = 20, until done: ([String]) -> Bool) async -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while !done(lines) && Date() < deadline { try? await Task.sleep(nanoseconds: 5_000_000) }
            return done(lines)
        }

        /// Sends `signal`, waits for the exit (killing after the deadline);
        /// true when it exited by itself with status 0.
        func stop(_ signal: Int32) async -> Bool {
            kill(process.processIdentifier, signal)
            let deadline = Date().addingTimeInterval(20)
            while process.isRunning && Date() < deadline { try? await Task.sleep(nanoseconds: 5_000_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return false
            }
            process.waitUntilExit()
            out.fileHandleForReading.readabilityHandler = nil
            err.fileHandleForReading.readabilityHandler = nil
            return process.terminationReason == .exit && process.terminationStatus == 0
        }
    }

    static let schemaDirectory: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("schema")
    }()

    static func schema() throws -> JSONSchemaCheck {
        try JSONSchemaCheck(file: schemaDirectory.appendingPathComponent("events.schema.json"))
    }

    static func event(_ line: String) -> String? {
        (try? JSONValue(parsing: line))?.object?["event"]?.string
    }

    /// `pcistore watch --json` prints a snapshot line, then one line per
    /// device change, and ends on SIGTERM.
    @Test(arguments: Backend.allCases)
    func jsonLinesUntilSIGTERM(_ backend: Backend) async throws {
        let h = try HostCLI(backend)
        defer { h.stop() }
        try h("assignable-add", "--stub", "pci-stub", "03:00.0", "03:00.1")
        let p = try WatchProcess(["--json", "--domain", "4"], environment: h.cli.environment)
        #expect(await p.wait { $0.count >= 1 }, "\(p.stderr)")
        try h("assign", "--domain", "4", "03:00.0")
        #expect(await p.wait { $0.count >= 3 }, "\(p.stderr)")
        #expect(await p.stop(SIGTERM), "\(p.stderr)")
        let objects = try p.lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(objects.first?["event"] as? String == "snapshot")
        #expect((objects.first?["devices"] as? [Any])?.isEmpty == true)
        let changes = objects.dropFirst()
        #expect(Set(changes.compactMap { $0["address"] as? String }) == ["0000:03:00.0", "0000:03:00.1"])
        for c in changes {
            #expect(c["event"] as? String == "changed")
            #expect((c["aspects"] as? [String])?.contains("owner") == true)
            #expect((c["new"] as? [String: Any])?["domain"] as? Int == 4)
        }
    }

    /// Every kind of line, made by real commands against the real daemon
    /// (restarted, for the resync), checked against the documented contract:
    /// every key present with its type, no other key, keys sorted.
    @Test func everyLineKeepsTheDocumentedContract() async throws {
        let h = try HostCLI(.xenstored)
        defer { h.stop() }
        let schema = try Self.schema()
        let p = try WatchProcess(["--json"], environment: h.cli.environment)
        #expect(await p.wait { $0.count >= 1 }, "\(p.stderr)")
        try h("discover")
        try h("assignable-add", "--stub", "pci-stub", "--name", "nic0", "05:00.0")
        try h("assign", "--domain", "4", "05:00.0")
        try h.host.unplug("0000:00:02.0")
        try h("discover")
        #expect(await p.wait { $0.contains { Self.event($0) == "removed" } }, "\(p.stderr)")
        // A new daemon on the same socket, with an empty store.
        h.daemon!.stop()
        try h.daemon!.startAgain()
        #expect(await p.wait { $0.contains { Self.event($0) == "resync" } }, "\(p.stderr)")
        try h("discover")
        #expect(await p.wait { $0.last.map { Self.event($0) == "added" } ?? false }, "\(p.stderr)")
        #expect(await p.stop(SIGTERM), "\(p.stderr)")

        var kinds: Set<String> = []
        var aspects: Set<String> = []
        for line in p.lines {
            guard let value = try? JSONValue(parsing: line) else { Issue.record("not JSON: \(line)"); continue }
            #expect(schema.problems(value) == [], "\(line)")
            #expect(value.canonical == line, "keys not sorted, or not in the canonical form: \(line)")
            if let k = value.object?["event"]?.string { kinds.insert(k) }
            if let a = value.object?["aspects"]?.array?.compactMap(\.string) {
                #expect(a == a.sorted())
                aspects.formUnion(a)
            }
        }
        #expect(kinds == ["snapshot", "added", "changed", "removed", "resync"])
        #expect(aspects.isSuperset(of: ["state", "owner", "renamed", "other"]), "\(aspects)")
        #expect(p.lines.first.flatMap(Self.event) == "snapshot")
    }

    /// The schema catches what it promises to: a missing key, an extra key,
    /// a wrong type. (Otherwise the test above could pass on anything.)
    @Test func theContractCheckRefusesBrokenLines() throws {
        let schema = try Self.schema()
        #expect(schema.problems(try JSONValue(parsing: #"{"devices":[],"event":"snapshot"}"#)) == [])
        for bad in [
            #"{"event":"snapshot"}"#,
            #"{"devices":[],"event":"snapshot","extra":1}"#,
            #"{"devices":{},"event":"snapshot"}"#,
            #"{"devices":[],"event":"gone"}"#,
            #"{"address":"0000:03:00.0","aspects":[],"event":"changed","new":{},"old":{}}"#,
            #"{"address":"3:00.0","event":"added","new":{}}"#,
        ] {
            #expect(!schema.problems(try JSONValue(parsing: bad)).isEmpty, "accepted \(bad)")
        }
    }

    /// `schema/events.md` and `schema/json.md` explain what the schema file
    /// holds: the same events, aspects and device keys.
    @Test func theDocumentsAndTheSchemaAgree() throws {
        let schema = try Self.schema()
        let events = try String(contentsOf: Self.schemaDirectory.appendingPathComponent("events.md"), encoding: .utf8)
        #expect(events.contains("events.schema.json"))
        let documentedEvents = Set(events.matches(of: /"event":"([a-z]+)"/).map { String($0.1) })
        let schemaEvents = Set((schema.root.object?["oneOf"]?.array ?? []).compactMap { b in
            b.object?["$ref"]?.string.flatMap(schema.resolve)?.object?["properties"]?.object?["event"]?.object?["const"]?.string
        })
        #expect(documentedEvents == schemaEvents)
        #expect(schemaEvents.count == 5)
        let aspectLine = events.split(separator: "\n").first { $0.hasPrefix("- `aspects` ⊆") } ?? ""
        let documentedAspects = Set(aspectLine.dropFirst("- `aspects` ⊆".count).matches(of: /`([a-z]+)`/).map { String($0.1) })
        let schemaAspects = Set(schema.resolve("#/$defs/changed")?.object?["properties"]?.object?["aspects"]?
            .object?["items"]?.object?["enum"]?.array?.compactMap(\.string) ?? [])
        #expect(documentedAspects == schemaAspects)
        #expect(schemaAspects == ["state", "owner", "resources", "renamed", "other"])

        // Every key json.md shows in DEVICE, and no other, is in the schema's device.
        let json = try String(contentsOf: Self.schemaDirectory.appendingPathComponent("json.md"), encoding: .utf8)
        guard let start = json.range(of: "```json\n{\n  \"address\""),
              let end = json.range(of: "```", range: start.upperBound..<json.endIndex) else {
            Issue.record("json.md has no DEVICE block")
            return
        }
        let documentedKeys = Set(json[start.upperBound..<end.lowerBound].matches(of: /"([a-z_]+)":/).map { String($0.1) })
            .union(["address"])
        func keys(_ v: JSONValue?) -> Set<String> {
            guard let o = v?.object else { return [] }
            var out: Set<String> = []
            if let ref = o["$ref"]?.string, ref != "#/$defs/address", ref != "#/$defs/hex64" { out.formUnion(keys(schema.resolve(ref))) }
            for (name, sub) in o["properties"]?.object ?? [:] {
                out.insert(name)
                out.formUnion(keys(sub))
            }
            out.formUnion(keys(o["items"]))
            return out
        }
        #expect(keys(schema.resolve("#/$defs/device")) == documentedKeys)
    }

    /// SIGINT ends it as cleanly as SIGTERM: exit 0, nothing on stderr.
    @Test func sigintEndsItToo() async throws {
        let h = try HostCLI(.engine)
        let p = try WatchProcess(["--json"], environment: h.cli.environment)
        #expect(await p.wait { $0.count >= 1 }, "\(p.stderr)")
        #expect(await p.stop(SIGINT), "\(p.stderr)")
        #expect(p.stderr.isEmpty, "\(p.stderr)")
    }

    /// A daemon that goes away is waited for: the watch neither exits nor
    /// falls back to another store, and says resync when one answers again.
    @Test func aWatchWaitsForTheDaemonToComeBack() async throws {
        let h = try HostCLI(.xenstored)
        defer { h.stop() }
        try h("discover")
        // Where `auto` would put an embedded store: never this machine's own.
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("pcistore-xdg-\(UUID().uuidString)").path
        let p = try WatchProcess([], environment: h.cli.environment.merging(["PCISTORE_STORE": "auto", "XDG_STATE_HOME": state]) { $1 })
        #expect(await p.wait { $0.first?.hasPrefix("snapshot: 9 devices") ?? false }, "\(p.lines) \(p.stderr)")
        h.daemon!.stop()
        // Time for the watch to notice and try to reconnect while nothing
        // answers; a watch that fell back to the embedded store says so here.
        await p.wait(seconds: 5) { _ in p.stderr.contains("embedded store") }
        try h.daemon!.startAgain()
        #expect(await p.wait { $0.contains("resync: 0 devices") }, "\(p.lines) \(p.stderr)")
        #expect(p.process.isRunning)
        #expect(await p.stop(SIGTERM), "\(p.stderr)")
        #expect(!p.stderr.contains("embedded store"), "\(p.stderr)")
    }
}
