/// The agent's sign of life, in `agents/D/heartbeat`:
/// `seq=812 pid=311 interval=2000 at=1764100801 state=up`.
///
/// `seq` grows by one each write, also across restarts (the agent starts
/// from what it finds), so the toolstack only compares it, never a clock.
/// `interval` is in milliseconds. `state=stopped` is written on a graceful
/// stop; `none` means no agent ever ran.
public struct AgentHeartbeat: Hashable, Sendable {
    public enum State: String, Sendable, Hashable { case up, stopped }
    public var seq: UInt64
    public var pid: Int32
    public var intervalMilliseconds: UInt64
    public var at: Int64
    public var state: State

    public init(seq: UInt64, pid: Int32, intervalMilliseconds: UInt64, at: Int64, state: State = .up) {
        self.seq = seq
        self.pid = pid
        self.intervalMilliseconds = intervalMilliseconds
        self.at = at
        self.state = state
    }

    public var encoded: String {
        "seq=\(seq) pid=\(pid) interval=\(intervalMilliseconds) at=\(at) state=\(state.rawValue)"
    }

    public static func decode(_ text: String, at path: String) throws(SchemaViolation) -> AgentHeartbeat? {
        if text == "none" { return nil }
        let f = try Fields(parsing: text, at: path)
        try f.expectKeys(["seq", "pid", "interval", "at", "state"], at: path)
        guard let seq = Text.parseDecimal(Substring(try f.require("seq", at: path)), max: UInt64.max),
              let pid = Text.parseDecimal(Substring(try f.require("pid", at: path)), max: UInt64(Int32.max)),
              let interval = Text.parseDecimal(Substring(try f.require("interval", at: path)), max: 86_400_000),
              let at = Text.parseDecimal(Substring(try f.require("at", at: path)), max: UInt64(Int64.max)),
              let state = State(rawValue: try f.require("state", at: path))
        else { throw SchemaViolation(path: path, "seq=N pid=N interval=MS at=N state=up|stopped") }
        return AgentHeartbeat(seq: seq, pid: Int32(pid), intervalMilliseconds: interval, at: Int64(at), state: state)
    }
}
