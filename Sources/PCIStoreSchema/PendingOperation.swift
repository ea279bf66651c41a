/// The journal entry of a command that is changing a device's binding:
/// `/local/pci/pending/DDDD-BB-SS-F = "op=seize pid=4242 start=183746"`.
///
/// Written in the same transaction that moves the device to `seizing` or
/// `returning`, removed in the one that moves it on. An entry whose process
/// is gone marks work a killed command left; the next command finishes it
/// or rolls it back. (`start` is the process's start time in clock ticks
/// since boot, so a recycled pid is not mistaken for the owner.)
public struct PendingOperation: Hashable, Sendable {
    public enum Kind: String, Sendable, Hashable { case seize, `return` }
    public var kind: Kind
    public var pid: Int32
    public var start: UInt64

    public init(kind: Kind, pid: Int32, start: UInt64) {
        self.kind = kind
        self.pid = pid
        self.start = start
    }

    public var encoded: String { "op=\(kind.rawValue) pid=\(pid) start=\(start)" }

    public init(decoding text: String, at path: String) throws(SchemaViolation) {
        let f = try Fields(parsing: text, at: path)
        try f.expectKeys(["op", "pid", "start"], at: path)
        guard let kind = Kind(rawValue: try f.require("op", at: path)),
              let pid = Text.parseDecimal(Substring(try f.require("pid", at: path)), max: UInt64(Int32.max)),
              let start = Text.parseDecimal(Substring(try f.require("start", at: path)), max: UInt64.max)
        else { throw SchemaViolation(path: path, "'\(Text.printable(text))' is not op=seize|return pid=N start=N") }
        self.init(kind: kind, pid: Int32(pid), start: start)
    }
}
