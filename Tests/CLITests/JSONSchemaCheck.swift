import Foundation

/// A JSON value with its kind kept (JSONSerialization on Linux cannot tell
/// `true` from `1`, and the contract can).
indirect enum JSONValue: Codable, Equatable {
    case null, bool(Bool), integer(Int64), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .integer(i) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .integer(let i): try c.encode(i)
        case .number(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// The canonical form pcistore prints: keys sorted, slashes as they are.
    var canonical: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! e.encode(self), as: UTF8.self)
    }

    init(parsing text: String) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    var object: [String: JSONValue]? { if case .object(let o) = self { o } else { nil } }
    var string: String? { if case .string(let s) = self { s } else { nil } }
    var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
}

/// Checks JSON values against a JSON Schema (2020-12), for the keywords the
/// files in `schema/` use: type, const, enum, pattern, minimum, maximum,
/// properties, required, additionalProperties (false), items, minItems,
/// uniqueItems, oneOf and local `$ref`s. Any other keyword is reported as a
/// problem, so a schema can never promise more than these tests check.
struct JSONSchemaCheck {
    let root: JSONValue

    init(file: URL) throws {
        root = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: file))
    }

    static let annotations: Set<String> = ["$schema", "$id", "$defs", "title", "description"]

    /// Every way `value` breaks the schema, each with where; empty when it conforms.
    func problems(_ value: JSONValue) -> [String] {
        var out: [String] = []
        check(value, root, "$", &out)
        return out
    }

    /// The schema at a local reference (`#/$defs/device`).
    func resolve(_ ref: String) -> JSONValue? {
        guard ref.hasPrefix("#/") else { return nil }
        var node: JSONValue? = root
        for part in ref.dropFirst(2).split(separator: "/") { node = node?.object?[String(part)] }
        return node
    }

    private func kind(_ v: JSONValue) -> String {
        switch v {
        case .null: "null"
        case .bool: "boolean"
        case .integer: "integer"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    private func check(_ v: JSONValue, _ schema: JSONValue, _ at: String, _ out: inout [String]) {
        guard let s = schema.object else { out.append("\(at): schema is not an object"); return }
        for (key, rule) in s.sorted(by: { $0.key < $1.key }) {
            switch key {
            case _ where Self.annotations.contains(key):
                continue
            case "$ref":
                guard let target = rule.string.flatMap(resolve) else { out.append("\(at): unresolved $ref \(rule)"); continue }
                check(v, target, at, &out)
            case "type":
                let allowed = rule.array?.compactMap(\.string) ?? rule.string.map { [$0] } ?? []
                let k = kind(v)
                if !allowed.contains(k) && !(k == "integer" && allowed.contains("number")) {
                    out.append("\(at): \(k), expected \(allowed.joined(separator: " or "))")
                }
            case "const":
                if v != rule { out.append("\(at): \(v) is not \(rule)") }
            case "enum":
                if !(rule.array ?? []).contains(v) { out.append("\(at): \(v) is not one of \(rule)") }
            case "pattern":
                guard case .string(let text) = v else { continue }
                let p = rule.string ?? ""
                if text.range(of: p, options: .regularExpression) == nil { out.append("\(at): \"\(text)\" does not match \(p)") }
            case "minimum", "maximum":
                guard case .integer(let n) = v, case .integer(let bound) = rule else { continue }
                if key == "minimum" ? n < bound : n > bound { out.append("\(at): \(n) breaks \(key) \(bound)") }
            case "properties":
                guard case .object(let o) = v else { continue }
                for (name, sub) in rule.object ?? [:] {
                    if let child = o[name] { check(child, sub, "\(at).\(name)", &out) }
                }
            case "required":
                guard case .object(let o) = v else { continue }
                for name in rule.array?.compactMap(\.string) ?? [] where o[name] == nil {
                    out.append("\(at): missing \(name)")
                }
            case "additionalProperties":
                guard case .object(let o) = v, rule == .bool(false) else {
                    if rule != .bool(false) { out.append("\(at): additionalProperties other than false is not checked") }
                    continue
                }
                let known = Set((s["properties"]?.object ?? [:]).keys)
                for name in o.keys.sorted() where !known.contains(name) { out.append("\(at): unexpected key \(name)") }
            case "items":
                guard case .array(let a) = v else { continue }
                for (i, e) in a.enumerated() { check(e, rule, "\(at)[\(i)]", &out) }
            case "minItems":
                guard case .array(let a) = v, case .integer(let n) = rule else { continue }
                if a.count < n { out.append("\(at): \(a.count) items, at least \(n) expected") }
            case "uniqueItems":
                guard case .array(let a) = v, rule == .bool(true) else { continue }
                for (i, e) in a.enumerated() where a[..<i].contains(e) { out.append("\(at)[\(i)]: repeated") }
            case "oneOf":
                let branches = rule.array ?? []
                let tried: [[String]] = branches.map { b in
                    var p: [String] = []
                    check(v, b, at, &p)
                    return p
                }
                let fits = tried.filter(\.isEmpty).count
                if fits != 1 {
                    // Say why the nearest branch did not fit, not just that none did.
                    let nearest = tried.filter { !$0.isEmpty }.min { $0.count < $1.count } ?? []
                    out.append("\(at): fits \(fits) of the \(branches.count) oneOf branches, not exactly one\(nearest.isEmpty ? "" : "; nearest: " + nearest.joined(separator: "; "))")
                }
            default:
                out.append("\(at): keyword \(key) is not checked by these tests")
            }
        }
    }
}
