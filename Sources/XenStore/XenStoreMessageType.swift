/// A message type of the wire protocol (`enum xsd_sockmsg_type` in
/// `xs_wire.h`). A struct, not an enum: a peer may send any 32-bit value, and
/// the codec must carry it to whoever answers "unknown type".
public struct XenStoreMessageType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let control = Self(rawValue: 0)
    public static let directory = Self(rawValue: 1)
    public static let read = Self(rawValue: 2)
    public static let getPermissions = Self(rawValue: 3)
    public static let watch = Self(rawValue: 4)
    public static let unwatch = Self(rawValue: 5)
    public static let transactionStart = Self(rawValue: 6)
    public static let transactionEnd = Self(rawValue: 7)
    public static let introduce = Self(rawValue: 8)
    public static let release = Self(rawValue: 9)
    public static let getDomainPath = Self(rawValue: 10)
    public static let write = Self(rawValue: 11)
    public static let mkdir = Self(rawValue: 12)
    public static let rm = Self(rawValue: 13)
    public static let setPermissions = Self(rawValue: 14)
    public static let watchEvent = Self(rawValue: 15)
    public static let error = Self(rawValue: 16)
    public static let isDomainIntroduced = Self(rawValue: 17)
    public static let resume = Self(rawValue: 18)
    public static let setTarget = Self(rawValue: 19)
    // 20 was XS_RESTRICT, never used by 4.17.
    public static let resetWatches = Self(rawValue: 21)
    public static let directoryPart = Self(rawValue: 22)

    private static let names: [UInt32: String] = [
        0: "CONTROL", 1: "DIRECTORY", 2: "READ", 3: "GET_PERMS", 4: "WATCH", 5: "UNWATCH",
        6: "TRANSACTION_START", 7: "TRANSACTION_END", 8: "INTRODUCE", 9: "RELEASE", 10: "GET_DOMAIN_PATH",
        11: "WRITE", 12: "MKDIR", 13: "RM", 14: "SET_PERMS", 15: "WATCH_EVENT", 16: "ERROR",
        17: "IS_DOMAIN_INTRODUCED", 18: "RESUME", 19: "SET_TARGET", 21: "RESET_WATCHES", 22: "DIRECTORY_PART",
    ]

    /// The name without `XS_`, or the number for a type 4.17 does not know.
    public var description: String { Self.names[rawValue] ?? "type \(rawValue)" }
}
