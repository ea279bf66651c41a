/// The embedded engine's file format: one node per line, parents first, so a
/// person can read, diff and replay it.
///
///     pcistore-xenstore 1
///     generation 42
///     domains 0 5
///     special @releaseDomain n0
///     node / n0 1 ""
///     node /local/pci n0 r5 7 "1"
///
/// A node line is `node <path> <permissions…> <generation> "<value>"`; the
/// value is escaped (`\\`, `\"`, `\n`, `\t`, `\xNN` for other bytes outside
/// printable ASCII), so any byte string survives and every line stays text.
struct EngineSnapshot: Sendable, Equatable {
    static let header = "pcistore-xenstore 1"

    var nodes: [String: EngineNode]
    var generation: UInt64
    var domains: Set<DomID>
    var specialPermissions: [String: XenStorePermissions]

    func encoded() -> [UInt8] {
        var out = Self.header + "\ngeneration \(generation)\n"
        out += "domains " + domains.sorted().map(\.description).joined(separator: " ") + "\n"
        for (path, p) in specialPermissions.sorted(by: { $0.key < $1.key }) {
            out += "special \(path) \(p)\n"
        }
        var stack = ["/"]
        while let path = stack.popLast() {
            guard let node = nodes[path] else { continue }
            out += "node \(path) \(node.permissions) \(node.generation) \"\(XenStoreText.escape(node.value))\"\n"
            stack.append(contentsOf: node.children.reversed().map { EngineState.child(path, $0) })
        }
        return Array(out.utf8)
    }

    /// Parses a file; any malformed line is an error naming its line number,
    /// never a crash and never a half-loaded store.
    init(decoding bytes: [UInt8]) throws(XenStoreError) {
        func bad(_ line: Int, _ why: String) -> XenStoreError {
            XenStoreError(.ioError, .persist, detail: "line \(line): \(why)")
        }
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        guard lines.first == Self.header else { throw bad(1, "not a pcistore XenStore snapshot") }
        nodes = [:]
        generation = 0
        domains = [.dom0]
        specialPermissions = [:]
        for (index, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            let n = index + 1
            let words = line.split(separator: " ", omittingEmptySubsequences: false)
            switch words.first {
            case "generation":
                guard words.count == 2, let g = UInt64(words[1]) else { throw bad(n, "bad generation") }
                generation = g
            case "domains":
                do {
                    domains = Set(try words.dropFirst().map { (w) throws(XenStoreError) in try DomID(String(w)) })
                } catch { throw bad(n, "bad domain list: \(error)") }
            case "special":
                guard words.count >= 3, words[1].hasPrefix("@") else { throw bad(n, "bad special node") }
                do {
                    specialPermissions[String(words[1])] = try XenStorePermissions(strings: words.dropFirst(2).map(String.init))
                } catch { throw bad(n, "bad permissions: \(error)") }
            case "node":
                guard let quote = line.firstIndex(of: "\""), line.last == "\"", line.index(before: line.endIndex) > quote,
                      let value = XenStoreText.unescape(line[line.index(after: quote)..<line.index(before: line.endIndex)])
                else { throw bad(n, "bad value") }
                let head = line[..<quote].split(separator: " ")
                guard head.count >= 4, let gen = UInt64(head.last!) else { throw bad(n, "bad node line") }
                let path: XenStorePath
                let permissions: XenStorePermissions
                do {
                    path = try XenStorePath(String(head[1]))
                    permissions = try XenStorePermissions(strings: head[2..<(head.count - 1)].map(String.init))
                } catch { throw bad(n, "\(error)") }
                guard !path.isSpecial, nodes[path.rawValue] == nil else { throw bad(n, "duplicate or special node") }
                if let parent = path.parent {
                    guard nodes[parent.rawValue] != nil else { throw bad(n, "\(path) comes before its parent") }
                    nodes[parent.rawValue]!.children.append(path.name!.rawValue)
                }
                nodes[path.rawValue] = EngineNode(value: value, permissions: permissions, children: [], generation: gen)
            default:
                throw bad(n, "unknown record")
            }
        }
        guard nodes["/"] != nil else { throw bad(lines.count, "no root node") }
        if let top = nodes.values.map(\.generation).max(), top > generation {
            throw bad(2, "generation \(generation) is below a node's \(top)")
        }
    }

    init(nodes: [String: EngineNode], generation: UInt64, domains: Set<DomID>,
         specialPermissions: [String: XenStorePermissions]) {
        self.nodes = nodes
        self.generation = generation
        self.domains = domains
        self.specialPermissions = specialPermissions
    }
}
