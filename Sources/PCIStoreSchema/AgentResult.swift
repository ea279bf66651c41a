/// Where a request is, as the agent reports it.
public enum AgentRequestState: String, Sendable, Hashable, CaseIterable {
    /// Taken up; the outcome recorded so far is the agent's journal (for
    /// `seize`, the driver each device had), so an agent that restarts
    /// finishes the work or rolls it back.
    case running
    case done
    /// Not done; everything was rolled back, and `reasons/K` says why.
    case failed

    public var isFinished: Bool { self != .running }
}

/// One answer, in `agents/D/results/K`:
/// `id=r67a1-4242-9f3 op=seize state=done at=1764100801 outcome=igb,igb`.
///
/// `outcome` has one entry per device of the request, in its order:
/// - `seize`: the driver the device was taken from (`none`: unbound), known
///   from `running` on, because the agent journals it before acting;
/// - `rebind`: the driver it is on now (`none`);
/// - `reset`: the reset method used, `unsupported` (it has none) or `failed`;
/// - `rediscover`: `none` (no devices).
public struct AgentResult: Hashable, Sendable {
    public var id: RequestID
    public var operation: AgentOperation
    public var state: AgentRequestState
    public var at: Int64
    public var outcome: [String]

    public init(id: RequestID, operation: AgentOperation, state: AgentRequestState, at: Int64, outcome: [String] = []) {
        self.id = id
        self.operation = operation
        self.state = state
        self.at = at
        self.outcome = outcome
    }

    public var encoded: String {
        var f = Fields()
        f.add("id", id.rawValue)
        f.add("op", operation.rawValue)
        f.add("state", state.rawValue)
        f.add("at", String(at))
        f.add("outcome", outcome.isEmpty ? "none" : outcome.joined(separator: ","))
        return f.text
    }

    /// An outcome entry: a driver or method name, or none / unsupported / failed.
    static func isOutcomeWord(_ s: Substring) -> Bool {
        !s.isEmpty && s.utf8.count <= 64
            && s.utf8.allSatisfy { (65...90).contains($0) || (97...122).contains($0) || (48...57).contains($0) || $0 == 45 || $0 == 95 || $0 == 46 }
    }

    /// `none` is a free slot, or one the agent has not answered yet: nil.
    public static func decode(_ text: String, at path: String) throws(SchemaViolation) -> AgentResult? {
        if text == "none" { return nil }
        let f = try Fields(parsing: text, at: path)
        try f.expectKeys(["id", "op", "state", "at", "outcome"], at: path)
        let id: RequestID
        do { id = try RequestID(try f.require("id", at: path)) } catch { throw SchemaViolation(path: path, error.problem) }
        guard let op = AgentOperation(rawValue: try f.require("op", at: path)),
              let state = AgentRequestState(rawValue: try f.require("state", at: path)),
              let at = Text.parseDecimal(Substring(try f.require("at", at: path)), max: UInt64(Int64.max))
        else { throw SchemaViolation(path: path, "op=, state= or at= is not what the schema allows") }
        let o = try f.require("outcome", at: path)
        let parts = o == "none" ? [] : o.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.allSatisfy(isOutcomeWord) else {
            throw SchemaViolation(path: path, "outcome=\(Text.printable(o)): names (driver, method, none, unsupported, failed), comma separated")
        }
        return AgentResult(id: id, operation: op, state: state, at: Int64(at), outcome: parts.map(String.init))
    }

    /// The outcome entry's driver: nil for `none` or a word that is not one.
    public static func driver(_ word: String) -> DriverName? {
        word == "none" ? nil : try? DriverName(word)
    }
}
