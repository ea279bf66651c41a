import Testing
import XenStore
import XenStoreTestSupport

/// `XenStoreRequest`: a message's payload read with cxenstored 4.17's rules
/// (`onearg`, `get_strings`, `xs_count_strings` in xenstored_core.c).
@Suite struct WireRequestTests {
    struct Row: Sendable, CustomTestStringConvertible {
        let type: XenStoreMessageType
        let payload: [UInt8]
        let expected: Result<XenStoreRequest, XenStoreError.Code>
        init(_ type: XenStoreMessageType, _ payload: [UInt8], _ expected: XenStoreRequest) {
            (self.type, self.payload, self.expected) = (type, payload, .success(expected))
        }
        init(_ type: XenStoreMessageType, _ payload: [UInt8], error: XenStoreError.Code) {
            (self.type, self.payload, self.expected) = (type, payload, .failure(error))
        }
        var testDescription: String { XenStoreMessage(type: type, payload: payload).description }
    }

    /// NUL-terminated strings; `"a\0b"` style literals for the odd cases.
    static func s(_ parts: String...) -> [UInt8] { XenStoreMessage.strings(parts) }
    static func raw(_ text: String) -> [UInt8] { Array(text.utf8) }
    static let d7 = try! DomID(7)

    static let valid: [Row] = [
        Row(.read, s("/a/b"), .read("/a/b")),
        Row(.read, s("rel/path"), .read("rel/path")),           // relative: resolved by the server
        Row(.read, s(""), .read("")),                           // onearg accepts it; the path is refused later
        Row(.mkdir, s("/a"), .mkdir("/a")),
        Row(.rm, s("/a"), .rm("/a")),
        Row(.directory, s("/"), .directory("/")),
        Row(.getPermissions, s("@releaseDomain"), .getPermissions("@releaseDomain")),
        Row(.write, s("/a", "v"), .write("/a", Array("v\0".utf8))),   // the value keeps its NUL
        Row(.write, raw("/a\0value"), .write("/a", Array("value".utf8))),
        Row(.write, raw("/a\0"), .write("/a", [])),
        Row(.write, raw("/a\0x\0y") + [0xff], .write("/a", Array("x\0y".utf8) + [0xff])),  // binary data
        Row(.directoryPart, s("/a", "0"), .directoryPart("/a", offset: 0)),
        Row(.directoryPart, s("/a", "4095"), .directoryPart("/a", offset: 4095)),
        Row(.setPermissions, s("/a", "n0"), .setPermissions("/a", ["n0"])),
        Row(.setPermissions, s("/a", "n0", "r5", "b7"), .setPermissions("/a", ["n0", "r5", "b7"])),
        Row(.watch, s("/a", "tok"), .watch("/a", token: "tok")),
        Row(.watch, s("rel", ""), .watch("rel", token: "")),
        Row(.watch, s("/a", "tok") + raw("junk"), .watch("/a", token: "tok")),  // bytes after the last NUL are no string
        Row(.unwatch, s("@introduceDomain", "t"), .unwatch("@introduceDomain", token: "t")),
        Row(.transactionStart, [], .transactionStart),
        Row(.transactionStart, s(""), .transactionStart),       // libxenstore sends "\0"; cxenstored ignores the payload
        Row(.transactionEnd, s("T"), .transactionEnd(commit: true)),
        Row(.transactionEnd, s("F"), .transactionEnd(commit: false)),
        Row(.introduce, s("7", "1234", "3"), .introduce(d7, mfn: 1234, eventChannel: 3)),
        Row(.introduce, s("7", "1234", "3", "/local/domain/7"), .introduce(d7, mfn: 1234, eventChannel: 3)),
        Row(.release, s("7"), .release(d7)),
        Row(.getDomainPath, s("7"), .getDomainPath(d7)),
        Row(.getDomainPath, s("0"), .getDomainPath(.dom0)),
        Row(.isDomainIntroduced, s("32751"), .isDomainIntroduced(try! DomID(32751))),
        Row(.resetWatches, [], .resetWatches),
        Row(.control, s("print", "x"), .unsupported(.control)),
        Row(.resume, s("7"), .unsupported(.resume)),
        Row(.setTarget, s("7", "8"), .unsupported(.setTarget)),
        Row(.watchEvent, s("/a", "t"), .unsupported(.watchEvent)),   // a reply type, not a request
        Row(.error, s("EINVAL"), .unsupported(.error)),
        Row(XenStoreMessageType(rawValue: 20), [], .unsupported(XenStoreMessageType(rawValue: 20))),
        Row(XenStoreMessageType(rawValue: 23), [], .unsupported(XenStoreMessageType(rawValue: 23))),
        Row(XenStoreMessageType(rawValue: .max), s("/a"), .unsupported(XenStoreMessageType(rawValue: .max))),
    ]

    static let malformed: [Row] = [
        // onearg: exactly one NUL, at the end.
        Row(.read, [], error: .invalidArgument),
        Row(.read, raw("/a"), error: .invalidArgument),
        Row(.read, s("/a", "/b"), error: .invalidArgument),
        Row(.read, raw("/a\0b"), error: .invalidArgument),
        Row(.mkdir, raw("/a"), error: .invalidArgument),
        Row(.rm, s("/a", ""), error: .invalidArgument),
        Row(.directory, [], error: .invalidArgument),
        Row(.getPermissions, raw("/a\0\0"), error: .invalidArgument),
        // Not UTF-8: a Swift String cannot hold it.
        Row(.read, [0x2f, 0xff, 0], error: .invalidArgument),
        Row(.read, [0x2f, 0xc3, 0], error: .invalidArgument),          // truncated sequence
        Row(.write, [0x2f, 0xed, 0xa0, 0x80, 0, 0x76], error: .invalidArgument),  // a surrogate
        Row(.watch, s("/a") + [0xfe, 0], error: .invalidArgument),     // the token
        Row(.setPermissions, s("/a") + [0x6e, 0x80, 0], error: .invalidArgument),
        // WRITE needs the NUL after its path.
        Row(.write, raw("/a"), error: .invalidArgument),
        Row(.write, [], error: .invalidArgument),
        // DIRECTORY_PART: exactly two strings, the second a number.
        Row(.directoryPart, s("/a"), error: .invalidArgument),
        Row(.directoryPart, s("/a", "0", "x"), error: .invalidArgument),
        Row(.directoryPart, s("/a", "zero"), error: .invalidArgument),
        Row(.directoryPart, s("/a", ""), error: .invalidArgument),
        Row(.directoryPart, s("/a", "-1"), error: .invalidArgument),
        Row(.directoryPart, s("/a", "99999999999999999999999"), error: .invalidArgument),
        // SET_PERMS: a path and at least one permission.
        Row(.setPermissions, s("/a"), error: .invalidArgument),
        Row(.setPermissions, raw("/a\0n0"), error: .invalidArgument),
        // WATCH and UNWATCH: exactly a path and a token (cxenstored's
        // get_strings(...) != 2).
        Row(.watch, s("/a"), error: .invalidArgument),
        Row(.watch, raw("/a\0tok"), error: .invalidArgument),
        Row(.watch, s("/a", "tok", "extra"), error: .invalidArgument),
        Row(.unwatch, s("/a", "tok", "extra"), error: .invalidArgument),
        Row(.unwatch, [], error: .invalidArgument),
        // TRANSACTION_END: T or F, nothing else.
        Row(.transactionEnd, s("t"), error: .invalidArgument),
        Row(.transactionEnd, s("TF"), error: .invalidArgument),
        Row(.transactionEnd, s(""), error: .invalidArgument),
        Row(.transactionEnd, raw("T"), error: .invalidArgument),
        Row(.transactionEnd, s("T", "T"), error: .invalidArgument),
        Row(.transactionEnd, [], error: .invalidArgument),
        // Domain ids: decimal 0…32751.
        Row(.release, s("dom7"), error: .invalidArgument),
        Row(.release, s(""), error: .invalidArgument),
        Row(.release, s("-1"), error: .invalidArgument),
        Row(.release, s("+7"), error: .invalidArgument),
        Row(.release, s("32752"), error: .invalidArgument),
        Row(.release, s("7", "8"), error: .invalidArgument),
        Row(.getDomainPath, s("0x10"), error: .invalidArgument),
        Row(.getDomainPath, raw("7"), error: .invalidArgument),
        Row(.isDomainIntroduced, s(" 7"), error: .invalidArgument),
        Row(.isDomainIntroduced, s("99999999999"), error: .invalidArgument),
        // INTRODUCE: domid, mfn, a positive event channel.
        Row(.introduce, s("7", "1234"), error: .invalidArgument),
        Row(.introduce, s("7", "1234", "0"), error: .invalidArgument),
        Row(.introduce, s("7", "1234", "-3"), error: .invalidArgument),
        Row(.introduce, s("7", "page", "3"), error: .invalidArgument),
        Row(.introduce, s("seven", "1234", "3"), error: .invalidArgument),
        Row(.introduce, s("7", "1234", "4294967296"), error: .invalidArgument),
    ]

    @Test(arguments: valid + malformed)
    func parse(_ row: Row) {
        let m = XenStoreMessage(type: row.type, requestID: 1, payload: row.payload)
        let got: Result<XenStoreRequest, XenStoreError.Code>
        do throws(XenStoreError) {
            got = .success(try XenStoreRequest(m))
        } catch {
            got = .failure(error.code)
            // The error says which message and why.
            #expect(error.operation == .parse)
            #expect(error.description.contains(row.type.description), "\(error)")
        }
        #expect(got == row.expected)
    }

    /// Every message type there is, with an empty and a random payload:
    /// parsing answers (a request, EINVAL) and never traps.
    @Test func everyTypeWithArbitraryPayloads() {
        var rng = SplitMix(state: 99)
        for type in 0...30 as ClosedRange<UInt32> {
            for n in [0, 1, 2, 5, 40, 4096] {
                let payload = (0..<n).map { _ in
                    // Mostly NULs, digits, T/F and path bytes, so that some parse.
                    ([0, 0x2f, 0x61, 0x30, 0x37, 0x54, 0x46, 0xff] as [UInt8]).randomElement(using: &rng)!
                }
                do throws(XenStoreError) {
                    _ = try XenStoreRequest(XenStoreMessage(type: XenStoreMessageType(rawValue: type), payload: payload))
                } catch {
                    #expect(error.code == .invalidArgument)
                }
            }
        }
    }
}
