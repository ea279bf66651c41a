#if canImport(Glibc)
import Glibc
#endif

/// The one error type of the XenStore layer.
///
/// `code` names what went wrong with XenStore's own errno names (the strings
/// xenstored puts in an `XS_ERROR` reply), so a failure reads the same whichever
/// backend produced it. The operation and the path travel with it, because
/// "ENOENT" alone never tells an admin which node was missing.
public struct XenStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Also an `Error` so the engine can throw bare codes internally; the
    /// public API always throws `XenStoreError`.
    public struct Code: Error, Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable {
            case errno(String)
            case unreachable
            case retriesExhausted
            case invalidReply
        }
        fileprivate let value: Value

        /// The errno name xenstored uses (`"ENOENT"`), or a name for the
        /// client-side conditions that have no errno on the wire.
        public var name: String {
            switch value {
            case .errno(let n): return n
            case .unreachable: return "UNREACHABLE"
            case .retriesExhausted: return "RETRIES_EXHAUSTED"
            case .invalidReply: return "INVALID_REPLY"
            }
        }
        public var description: String { name }

        private init(errno name: String) { value = .errno(name) }

        public static let invalidArgument = Code(errno: "EINVAL")
        public static let accessDenied = Code(errno: "EACCES")
        public static let alreadyExists = Code(errno: "EEXIST")
        public static let isDirectory = Code(errno: "EISDIR")
        public static let notFound = Code(errno: "ENOENT")
        public static let outOfMemory = Code(errno: "ENOMEM")
        public static let noSpace = Code(errno: "ENOSPC")
        public static let ioError = Code(errno: "EIO")
        public static let notEmpty = Code(errno: "ENOTEMPTY")
        public static let notImplemented = Code(errno: "ENOSYS")
        public static let readOnly = Code(errno: "EROFS")
        public static let busy = Code(errno: "EBUSY")
        /// A transaction conflicted at commit; re-run it.
        public static let tryAgain = Code(errno: "EAGAIN")
        public static let alreadyConnected = Code(errno: "EISCONN")
        public static let tooBig = Code(errno: "E2BIG")
        public static let notPermitted = Code(errno: "EPERM")
        /// No daemon answered, or the connection to it was lost.
        public static let unreachable = Code(value: .unreachable)
        /// `transaction(_:)` met `EAGAIN` on every attempt it was allowed.
        public static let retriesExhausted = Code(value: .retriesExhausted)
        /// The peer answered something the protocol does not allow.
        public static let invalidReply = Code(value: .invalidReply)

        private init(value: Value) { self.value = value }

        /// Every errno name that xenstored can answer with (`xsd_errors` in xs_wire.h).
        public static let wireErrors: [Code] = [
            .invalidArgument, .accessDenied, .alreadyExists, .isDirectory, .notFound,
            .outOfMemory, .noSpace, .ioError, .notEmpty, .notImplemented, .readOnly,
            .busy, .tryAgain, .alreadyConnected, .tooBig, .notPermitted,
        ]

        /// The code for an errno name as it appears in an `XS_ERROR` reply.
        public init?(name: String) {
            guard let code = Code.wireErrors.first(where: { $0.name == name }) else { return nil }
            self = code
        }

        /// The code for a Linux errno value set by libxenstore.
        ///
        /// Socket-level failures mean the daemon is gone, not that a node is
        /// missing; they become `.unreachable` so callers can tell the two apart.
        public init(errno value: Int32) {
            switch value {
            case EINVAL: self = .invalidArgument
            case EACCES: self = .accessDenied
            case EEXIST: self = .alreadyExists
            case EISDIR: self = .isDirectory
            case ENOENT: self = .notFound
            case ENOMEM: self = .outOfMemory
            case ENOSPC: self = .noSpace
            case ENOTEMPTY: self = .notEmpty
            case ENOSYS: self = .notImplemented
            case EROFS: self = .readOnly
            case EBUSY: self = .busy
            case EAGAIN: self = .tryAgain
            case EISCONN: self = .alreadyConnected
            case E2BIG: self = .tooBig
            case EPERM: self = .notPermitted
            case ECONNREFUSED, ECONNRESET, EPIPE, ENOTCONN, EBADF, ESHUTDOWN, ECONNABORTED:
                self = .unreachable
            default: self = .ioError
            }
        }

        /// `catch XenStoreError.Code.notFound` style matching on an error.
        public static func ~= (code: Code, error: any Error) -> Bool {
            if let c = error as? Code { return c == code }
            return (error as? XenStoreError)?.code == code
        }
    }

    /// The XenStore operation that failed, named like the wire message (`READ`).
    public enum Operation: String, Sendable, Hashable {
        case read = "READ", write = "WRITE", mkdir = "MKDIR", rm = "RM"
        case directory = "DIRECTORY", getPermissions = "GET_PERMS", setPermissions = "SET_PERMS"
        case transactionStart = "TRANSACTION_START", transactionEnd = "TRANSACTION_END"
        case watch = "WATCH", unwatch = "UNWATCH", introduce = "INTRODUCE", release = "RELEASE"
        case isDomainIntroduced = "IS_DOMAIN_INTRODUCED", resetWatches = "RESET_WATCHES"
        case getDomainPath = "GET_DOMAIN_PATH", directoryPart = "DIRECTORY_PART", serve = "SERVE"
        case connect = "CONNECT", parse = "PARSE", persist = "PERSIST"
    }

    public let code: Code
    public let operation: Operation
    /// The path the operation was about, as the caller gave it.
    public let path: String?
    /// What was wrong, in words, when the code alone does not say it.
    public let detail: String?

    public init(_ code: Code, _ operation: Operation, path: String? = nil, detail: String? = nil) {
        self.code = code
        self.operation = operation
        self.path = path
        self.detail = detail
    }

    /// One line: what the CLI prints.
    public var description: String {
        var s = "\(operation.rawValue)"
        if let path { s += " \(path)" }
        s += ": \(code.name)"
        if let detail { s += " (\(detail))" }
        return s
    }

    public static func ~= (code: Code, error: XenStoreError) -> Bool { error.code == code }
}
