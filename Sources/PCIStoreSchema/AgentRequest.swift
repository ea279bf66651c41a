/// A request's id: 1–64 of `A-Z a-z 0-9 - _`, unique among the requests an
/// agent holds. The toolstack makes one up (`r<time>-<pid>-<random>`) unless
/// given one; submitting an id that is already in a slot waits for that
/// request instead of sending another, which is what makes a retry safe.
public struct RequestID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(_ text: String) throws(SchemaViolation) {
        let ok = !text.isEmpty && text.utf8.count <= 64 && text != "none"
            && text.utf8.allSatisfy { (65...90).contains($0) || (97...122).contains($0) || (48...57).contains($0) || $0 == 45 || $0 == 95 }
        guard ok else { throw SchemaViolation(path: Text.printable(text), "a request id is 1–64 of A-Z a-z 0-9 - _ (and not 'none')") }
        rawValue = text
    }

    public var description: String { rawValue }

    /// A fresh id: time, process and a random part, so two toolstack
    /// processes never pick the same one.
    public static func make(time: Int64, pid: Int32) -> RequestID {
        try! RequestID("r\(String(time, radix: 16))-\(pid)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))")
    }
}

/// What the toolstack asks an agent to do on its bus.
public enum AgentOperation: String, Sendable, Hashable, CaseIterable {
    /// Take the devices from their drivers and give them to the stub in
    /// `driver`; all of them or, rolled back, none.
    case seize
    /// Give the devices to `driver` (none: leave them unbound).
    case rebind
    /// Reset each device; the outcome names the method used.
    case reset
    /// Read the bus again and publish it in `discovery/`.
    case rediscover
}

/// One request, in `agents/D/requests/K`:
/// `id=r67a1-4242-9f3 op=seize devices=0000-03-00-0,0000-03-00-1 driver=pciback pid=4242 start=183746 at=1764100800`.
///
/// `pid` and `start` name the toolstack process that waits for it (start
/// time in clock ticks, as in `pending/`), so another command can tell a
/// request whose submitter died and apply its result. `at` is the
/// submitter's clock, for people reading the store.
public struct AgentRequest: Hashable, Sendable {
    public var id: RequestID
    public var operation: AgentOperation
    /// Ascending, no repeats; empty exactly for `rediscover`.
    public var devices: [SBDF]
    /// The stub for `seize`, the target for `rebind` (nil: unbound); nil otherwise.
    public var driver: DriverName?
    public var pid: Int32
    public var start: UInt64
    public var at: Int64

    public init(id: RequestID, operation: AgentOperation, devices: [SBDF] = [], driver: DriverName? = nil,
                pid: Int32 = 0, start: UInt64 = 0, at: Int64 = 0) {
        self.id = id
        self.operation = operation
        self.devices = Array(Set(devices)).sorted()
        self.driver = driver
        self.pid = pid
        self.start = start
        self.at = at
    }

    /// Why this request cannot be sent, or nil.
    public var problem: String? {
        switch operation {
        case .rediscover:
            if !devices.isEmpty || driver != nil { return "rediscover names no device and no driver" }
        case .seize, .rebind, .reset:
            if devices.isEmpty { return "\(operation.rawValue) needs at least one device" }
            if devices.count > AgentLayout.maxDevicesPerRequest {
                return "\(devices.count) devices in one request; an agent takes at most \(AgentLayout.maxDevicesPerRequest)"
            }
            if operation == .seize && driver == nil { return "seize needs a stub driver" }
            if operation == .reset && driver != nil { return "reset names no driver" }
        }
        return nil
    }

    public var encoded: String {
        var f = Fields()
        f.add("id", id.rawValue)
        f.add("op", operation.rawValue)
        f.add("devices", devices.isEmpty ? "none" : devices.map(\.nodeName.rawValue).joined(separator: ","))
        f.add("driver", driver?.rawValue ?? "none")
        f.add("pid", String(pid))
        f.add("start", String(start))
        f.add("at", String(at))
        return f.text
    }

    /// `none` is a free slot: nil.
    public static func decode(_ text: String, at path: String) throws(SchemaViolation) -> AgentRequest? {
        if text == "none" { return nil }
        let f = try Fields(parsing: text, at: path)
        try f.expectKeys(["id", "op", "devices", "driver", "pid", "start", "at"], at: path)
        let id: RequestID
        do { id = try RequestID(try f.require("id", at: path)) } catch { throw SchemaViolation(path: path, error.problem) }
        let opText = try f.require("op", at: path)
        guard let op = AgentOperation(rawValue: opText) else {
            throw SchemaViolation(path: path, "op=\(Text.printable(opText)) is not one of \(AgentOperation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let devices = try PCITopology.addresses(try f.require("devices", at: path), key: "devices", at: path)
        let d = try f.require("driver", at: path)
        var driver: DriverName? = nil
        if d != "none" {
            do { driver = try DriverName(d) } catch { throw SchemaViolation(path: path, "driver=\(Text.printable(d)): \(error.problem)") }
        }
        guard let pid = Text.parseDecimal(Substring(try f.require("pid", at: path)), max: UInt64(Int32.max)),
              let start = Text.parseDecimal(Substring(try f.require("start", at: path)), max: UInt64.max),
              let at = Text.parseDecimal(Substring(try f.require("at", at: path)), max: UInt64(Int64.max))
        else { throw SchemaViolation(path: path, "pid=, start= and at= are decimal numbers") }
        let r = AgentRequest(id: id, operation: op, devices: devices, driver: driver, pid: Int32(pid), start: start, at: Int64(at))
        if let p = r.problem { throw SchemaViolation(path: path, p) }
        return r
    }
}
