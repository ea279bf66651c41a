/// Sizes fixed by the wire protocol (`xs_wire.h`) and by cxenstored's defaults.
public enum XenStoreLimits {
    /// Largest payload of one message, either direction (`XENSTORE_PAYLOAD_MAX`).
    public static let payloadMax = 4096
    /// Longest absolute path the protocol allows (`XENSTORE_ABS_PATH_MAX`).
    public static let absolutePathMax = 3072
    /// Longest relative path (`XENSTORE_REL_PATH_MAX`). cxenstored also applies
    /// it to absolute paths outside `/local/domain/<id>/`, counting only what
    /// follows that prefix — so `/a/…` longer than 2048 bytes is `EINVAL` there.
    public static let relativePathMax = 2048
    /// The characters a node name may hold; everything else is `EINVAL`.
    public static let nodeNameCharacters = "A-Z a-z 0-9 - _ @"

    static func isNameByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
             UInt8(ascii: "@"):
            return true
        default:
            return false
        }
    }
}
