import Testing
@testable import XenStore
import XenStoreTestSupport

@Suite struct PathTests {
    @Test(arguments: [
        "/", "/local", "/local/pci/0000-03-00-0", "/a/b_c/D-9/@x", "@releaseDomain", "@introduceDomain",
        "/" + String(repeating: "a", count: 3071),
    ])
    func accepts(_ s: String) throws {
        #expect(try XenStorePath(s).rawValue == s)
    }

    @Test(arguments: [
        ("", "empty"), ("local", "absolute"), ("/local/", "end in '/'"), ("//a", "'//'"), ("/a//b", "'//'"),
        ("/local/pci/0000:03:00.0", "':' at offset 15"), ("/a b", "' ' at offset 2"), ("/a.b", "'.'"),
        ("/caf\u{e9}", "byte 0xc3"), ("/a\u{0}b", "byte 0x0"), ("/" + String(repeating: "a", count: 3072), "3073 bytes"),
    ])
    func rejects(_ s: String, _ reason: String) {
        do {
            _ = try XenStorePath(s)
            Issue.record("accepted \(s)")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.operation == .parse)
            #expect(error.description.contains(reason), "\(error)")
        }
    }

    @Test func structure() throws {
        let p = try XenStorePath("/local/pci/devices")
        #expect(p.components.map(\.rawValue) == ["local", "pci", "devices"])
        #expect(p.parent == (try XenStorePath("/local/pci")))
        #expect(p.name == "devices")
        #expect(XenStorePath.root.parent == nil)
        #expect(try XenStorePath("/local").parent == .root)
        #expect(try XenStorePath.root.appending("a", "b").rawValue == "/a/b")
        #expect(XenStorePath.releaseDomain.isSpecial && XenStorePath.releaseDomain.parent == nil)
        #expect(try XenStorePath("/a").contains(XenStorePath("/a/b")))
        #expect(!(try XenStorePath("/a").contains(XenStorePath("/ab"))))
        #expect(XenStorePath.root.contains(.releaseDomain))
    }

    @Test func appendingPastTheLimitThrows() throws {
        let long = try XenStorePath("/" + String(repeating: "a", count: 3070))
        #expect(throws: XenStoreError.self) { try long.appending("bb") }
    }

    /// Property: any path built from valid names parses back to itself, and
    /// its components and parent chain rebuild it.
    @Test func randomPathsRoundTrip() throws {
        var rng = SplitMix(state: 42)
        let alphabet = Array("ABCXYZabcxyz0189-_@")
        for _ in 0..<2000 {
            let depth = Int.random(in: 1...8, using: &rng)
            let names = (0..<depth).map { _ in
                String((0..<Int.random(in: 1...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            }
            let text = "/" + names.joined(separator: "/")
            let p = try XenStorePath(text)
            #expect(p.components.map(\.rawValue) == names)
            var rebuilt = XenStorePath.root
            for n in p.components { rebuilt = try rebuilt.appending(n) }
            #expect(rebuilt == p)
            var up = p, hops = 0
            while let parent = up.parent { up = parent; hops += 1 }
            #expect(hops == depth)
        }
    }
}

@Suite struct DomIDAndPermissionTests {
    @Test func domids() throws {
        #expect(try DomID("0") == .dom0)
        #expect(try DomID("32751").rawValue == 32751)
        for bad in ["32752", "-1", "", "1e3", "0x10", " 5", "999999"] {
            #expect(throws: XenStoreError.self, "\(bad)") { try DomID(bad) }
        }
    }

    @Test func permissionsParseAndPrint() throws {
        let p = try XenStorePermissions("n0 r5 b7 w9")
        #expect(p.owner == .dom0 && p.others == XenStoreAccess.none)
        #expect(p.entries.map(\.text) == ["r5", "b7", "w9"])
        #expect(p.description == "n0 r5 b7 w9")
        #expect(p.access(for: try DomID(5)) == .read)
        #expect(p.access(for: try DomID(8)) == XenStoreAccess.none)
        #expect(try XenStorePermissions("r3").access(for: DomID(8)) == .read)
        for bad in ["", "x0", "r", "n0 q5", "n0 r99999"] {
            #expect(throws: XenStoreError.self, "\(bad)") { try XenStorePermissions(bad) }
        }
    }

    @Test func errorsNameTheirErrno() {
        #expect(XenStoreError.Code.wireErrors.map(\.name) == [
            "EINVAL", "EACCES", "EEXIST", "EISDIR", "ENOENT", "ENOMEM", "ENOSPC", "EIO", "ENOTEMPTY",
            "ENOSYS", "EROFS", "EBUSY", "EAGAIN", "EISCONN", "E2BIG", "EPERM",
        ])
        for code in XenStoreError.Code.wireErrors { #expect(XenStoreError.Code(name: code.name) == code) }
        let e = XenStoreError(.notFound, .read, path: "/local/pci/x")
        #expect(e.description == "READ /local/pci/x: ENOENT")
        #expect(XenStoreError.Code.notFound ~= (e as any Error))
    }

    @Test func escapingRoundTripsEveryByte() {
        var rng = SplitMix(state: 7)
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let text = XenStoreText.escape(bytes)
            #expect(text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7f })
            #expect(XenStoreText.unescape(text[...]) == bytes)
        }
        #expect(XenStoreText.unescape("\\q"[...]) == nil)
        #expect(XenStoreText.unescape("\\x4"[...]) == nil)
    }
}
