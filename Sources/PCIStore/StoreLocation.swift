import XenStore
#if canImport(Glibc)
import Glibc
#endif

/// Which XenStore the tools talk to.
///
/// `--store xenstore` is the real daemon through libxenstore (honouring
/// `XENSTORED_PATH`); `--store file:PATH` is the embedded engine kept in a
/// file. Without either (and without `PCISTORE_STORE`), the daemon is used when
/// one answers, else the embedded file store in the user's state directory.
public enum StoreLocation: Equatable, Sendable, CustomStringConvertible {
    case xenstore
    case file(String)
    /// Daemon if reachable, else `file(defaultFile)`.
    case automatic

    public static let environmentVariable = "PCISTORE_STORE"

    /// Parses `xenstore`, `file:PATH` or `auto`.
    public init(_ text: String) throws(XenStoreError) {
        switch text {
        case "xenstore": self = .xenstore
        case "auto": self = .automatic
        default:
            guard text.hasPrefix("file:"), text.count > 5 else {
                throw XenStoreError(.invalidArgument, .parse, path: text,
                                    detail: "a store is 'xenstore', 'file:PATH' or 'auto'")
            }
            self = .file(String(text.dropFirst(5)))
        }
    }

    public var description: String {
        switch self {
        case .xenstore: "xenstore"
        case .file(let p): "file:\(p)"
        case .automatic: "auto"
        }
    }

    /// The option if given, else `PCISTORE_STORE`, else automatic.
    public static func resolve(option: String?, environment: [String: String]) throws(XenStoreError) -> StoreLocation {
        if let option { return try StoreLocation(option) }
        if let value = environment[environmentVariable], !value.isEmpty { return try StoreLocation(value) }
        return .automatic
    }

    /// `$XDG_STATE_HOME/pcistore/store`, else `~/.local/state/pcistore/store`;
    /// root without either uses `/var/lib/pcistore/store`.
    public static func defaultFile(environment: [String: String]) -> String {
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") { return state + "/pcistore/store" }
        if let home = environment["HOME"], home.hasPrefix("/"), home != "/" { return home + "/.local/state/pcistore/store" }
        return "/var/lib/pcistore/store"
    }

    /// An open connection, and where it actually went (for `automatic`).
    public struct Opened: Sendable {
        public let connection: any XenStoreConnection
        public let location: StoreLocation
        /// Set when `automatic` fell back to the embedded store, so the CLI can say so once.
        public let fallbackNotice: String?
    }

    public func open(environment: [String: String]) throws(XenStoreError) -> Opened {
        switch self {
        case .xenstore:
            return Opened(connection: try LibXenStoreConnection(socketPath: environment["XENSTORED_PATH"]),
                          location: self, fallbackNotice: nil)
        case .file(let path):
            try Self.makeParentDirectory(of: path)
            return Opened(connection: try XenStoreEngine(persistingTo: path).connect(), location: self, fallbackNotice: nil)
        case .automatic:
            do {
                return Opened(connection: try LibXenStoreConnection(socketPath: environment["XENSTORED_PATH"]),
                              location: .xenstore, fallbackNotice: nil)
            } catch where error.code == .unreachable {
                let path = Self.defaultFile(environment: environment)
                let opened = try StoreLocation.file(path).open(environment: environment)
                return Opened(connection: opened.connection, location: opened.location,
                              fallbackNotice: "no XenStore daemon reachable (\(error.path ?? "socket")); using the embedded store \(path)")
            }
        }
    }

    static func makeParentDirectory(of path: String) throws(XenStoreError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/").dropLast() {
            prefix += "/" + part
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw XenStoreError(.ioError, .persist, path: prefix,
                                    detail: "cannot create directory: \(String(cString: strerror(errno)))")
            }
        }
    }
}
