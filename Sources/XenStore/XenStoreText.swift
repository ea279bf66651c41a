/// The one text form of a XenStore value, used wherever values are printed
/// or saved: printable ASCII stays as it is; `\\`, `"`, newline and tab get
/// backslash escapes and every other byte is `\xNN`. Any byte string survives
/// a round trip, and the text is always one printable line.
public enum XenStoreText {
    public static func escape(_ bytes: [UInt8]) -> String {
        var s = ""
        for b in bytes {
            switch b {
            case UInt8(ascii: "\\"): s += "\\\\"
            case UInt8(ascii: "\""): s += "\\\""
            case UInt8(ascii: "\n"): s += "\\n"
            case UInt8(ascii: "\t"): s += "\\t"
            case 0x20..<0x7f: s.unicodeScalars.append(Unicode.Scalar(b))
            default: s += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
            }
        }
        return s
    }

    /// The bytes of an escaped value; nil when the text is not a valid escape.
    public static func unescape(_ text: Substring) -> [UInt8]? {
        var out: [UInt8] = []
        var it = text.utf8.makeIterator()
        while let b = it.next() {
            guard b == UInt8(ascii: "\\") else { out.append(b); continue }
            switch it.next() {
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
            case UInt8(ascii: "n"): out.append(UInt8(ascii: "\n"))
            case UInt8(ascii: "t"): out.append(UInt8(ascii: "\t"))
            case UInt8(ascii: "x"):
                guard let h = it.next(), let l = it.next(),
                      let v = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16) else { return nil }
                out.append(v)
            default: return nil
            }
        }
        return out
    }
}
