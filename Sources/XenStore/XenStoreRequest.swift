/// A client's request, parsed from a message's payload with cxenstored's
/// rules (a malformed payload is `EINVAL`, an unknown type `ENOSYS`).
///
/// Paths stay as sent: a relative one means "below my domain's home", which
/// only the server knows. Pure: no I/O, no store.
public enum XenStoreRequest: Hashable, Sendable {
    case read(String)
    case write(String, [UInt8])
    case mkdir(String)
    case rm(String)
    case directory(String)
    /// The children from byte `offset` of the NUL-separated list.
    case directoryPart(String, offset: Int)
    case getPermissions(String)
    case setPermissions(String, [String])
    case watch(String, token: String)
    case unwatch(String, token: String)
    case transactionStart
    case transactionEnd(commit: Bool)
    case introduce(DomID, mfn: UInt64, eventChannel: UInt32)
    case release(DomID)
    case getDomainPath(DomID)
    case isDomainIntroduced(DomID)
    case resetWatches
    /// A type this server does not implement (control, resume, set-target,
    /// the reply-only types, or an unknown number).
    case unsupported(XenStoreMessageType)

    public init(_ message: XenStoreMessage) throws(XenStoreError) {
        let p = message.payload
        let op = message.type.description
        func invalid(_ why: String) -> XenStoreError {
            XenStoreError(.invalidArgument, .parse, detail: "\(op): \(why)")
        }
        /// The payload's NUL-terminated strings; bytes after the last NUL are
        /// not a string (only `WRITE`'s value may be unterminated).
        func strings(atLeast n: Int) throws(XenStoreError) -> [String] {
            var out: [String] = []
            var from = 0
            for (i, b) in p.enumerated() where b == 0 {
                guard let s = String(validating: p[from..<i], as: UTF8.self) else { throw invalid("argument \(out.count + 1) is not UTF-8") }
                out.append(s)
                from = i + 1
            }
            guard out.count >= n else { throw invalid("needs \(n) NUL-terminated argument\(n == 1 ? "" : "s"), got \(out.count)") }
            return out
        }
        /// cxenstored's `onearg`: exactly one string, ending the payload.
        func single() throws(XenStoreError) -> String {
            guard let nul = p.firstIndex(of: 0), nul == p.count - 1 else {
                throw invalid("needs exactly one NUL-terminated argument")
            }
            return try strings(atLeast: 1)[0]
        }
        func domain(_ s: String) throws(XenStoreError) -> DomID {
            guard let d = try? DomID(s) else { throw invalid("'\(s)' is not a domain id (0…\(DomID.maxValue))") }
            return d
        }
        func number<T: FixedWidthInteger>(_ s: String, _: T.Type) throws(XenStoreError) -> T {
            guard let n = T(s, radix: 10) else { throw invalid("'\(s)' is not a number") }
            return n
        }

        switch message.type {
        case .read: self = .read(try single())
        case .mkdir: self = .mkdir(try single())
        case .rm: self = .rm(try single())
        case .directory: self = .directory(try single())
        case .getPermissions: self = .getPermissions(try single())
        case .write:
            guard let nul = p.firstIndex(of: 0) else { throw invalid("needs a NUL after the path") }
            guard let path = String(validating: p[..<nul], as: UTF8.self) else { throw invalid("path is not UTF-8") }
            self = .write(path, Array(p[(nul + 1)...]))
        case .directoryPart:
            let a = try strings(atLeast: 2)
            guard a.count == 2 else { throw invalid("needs a path and an offset") }
            // An offset into the child list: never negative (cxenstored
            // reads it into an unsigned int).
            self = .directoryPart(a[0], offset: Int(try number(a[1], UInt32.self)))
        case .setPermissions:
            let a = try strings(atLeast: 2)
            self = .setPermissions(a[0], Array(a.dropFirst()))
        case .watch, .unwatch:
            let a = try strings(atLeast: 2)
            // cxenstored's do_watch and do_unwatch: exactly two strings.
            guard a.count == 2 else { throw invalid("needs a path and a token") }
            self = message.type == .watch ? .watch(a[0], token: a[1]) : .unwatch(a[0], token: a[1])
        case .transactionStart: self = .transactionStart
        case .transactionEnd:
            switch try single() {
            case "T": self = .transactionEnd(commit: true)
            case "F": self = .transactionEnd(commit: false)
            case let other: throw invalid("'\(other)' is neither T nor F")
            }
        case .introduce:
            let a = try strings(atLeast: 3)
            let port = try number(a[2], UInt32.self)
            guard port > 0 else { throw invalid("event channel must be positive") }
            self = .introduce(try domain(a[0]), mfn: try number(a[1], UInt64.self), eventChannel: port)
        case .release: self = .release(try domain(try single()))
        case .getDomainPath: self = .getDomainPath(try domain(try single()))
        case .isDomainIntroduced: self = .isDomainIntroduced(try domain(try single()))
        case .resetWatches: self = .resetWatches
        default: self = .unsupported(message.type)
        }
    }
}
