import Foundation
import Testing
@testable import PCIStoreSchema
import XenStore
import XenStoreTestSupport

/// `schema/` is the contract other languages read; these tests hold the Swift
/// types to it.
@Suite struct SchemaDefinitionTests {
    static let schemaDirectory: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("schema")
    }()

    struct Node: Decodable {
        let path: String
        let kind: String
        let grammar: String?
        let required: Bool?
    }

    struct StateDef: Decodable { let to: [String] }

    struct Definition: Decodable {
        let version: String
        let root: String
        let nodes: [Node]
        let states: [String: StateDef]
    }

    static func definition() throws -> Definition {
        try JSONDecoder().decode(Definition.self, from: Data(contentsOf: schemaDirectory.appendingPathComponent("pcistore-v1.json")))
    }

    static let devicePrefix = "/local/pci/devices/{segment}/{bus}/{device}/"

    @Test func versionAndRootMatch() throws {
        let d = try Self.definition()
        #expect(d.version == PCIStoreLayout.schemaVersion)
        #expect(d.root == PCIStoreLayout.root.rawValue)
    }

    @Test func deviceLeavesAreExactlyTheOnesTheTypesWrite() throws {
        let d = try Self.definition()
        let leaves = d.nodes.filter { $0.path.hasPrefix(Self.devicePrefix) }
        #expect(leaves.map { String($0.path.dropFirst(Self.devicePrefix.count)) } == DeviceRecord.nodeNames)
        #expect(Set(leaves.filter { $0.required == false }.map { String($0.path.dropFirst(Self.devicePrefix.count)) })
                == DeviceRecord.optionalNodeNames)
    }

    @Test func stateMachineMatches() throws {
        let d = try Self.definition()
        #expect(Set(d.states.keys) == Set(DeviceState.allCases.map(\.rawValue)))
        for s in DeviceState.allCases {
            #expect(Set(d.states[s.rawValue]!.to) == Set(DeviceState.transitions[s]!.map(\.rawValue)), "\(s)")
        }
    }

    /// Every node of many random records matches its grammar in the
    /// definition, and decodes back to the same record.
    @Test func randomRecordsFollowTheGrammarAndRoundTrip() throws {
        let d = try Self.definition()
        var grammars: [String: NSRegularExpression] = [:]
        for n in d.nodes where n.grammar != nil {
            grammars[n.path] = try NSRegularExpression(pattern: n.grammar!)
        }
        func matches(_ pattern: String, _ value: String) -> Bool {
            guard let re = grammars[pattern] else { return false }
            return re.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
        }
        var rng = SplitMix(state: 2026)
        var image = DatabaseImage()
        for _ in 0..<300 {
            let r = Generate.record(&rng)
            image.devices[r.address] = r
            let dir = PCIStoreLayout.device(r.address).rawValue
            var nodes: [String: String] = [:]
            for (leaf, value) in r.nodes {
                #expect(matches(Self.devicePrefix + leaf.rawValue, value), "\(leaf) = \(value)")
                nodes[leaf.rawValue] = value
            }
            #expect(try DeviceRecord(address: r.address, nodes: nodes, at: dir) == r)
        }
        for (path, value) in image.entries where path.rawValue.hasPrefix("/local/pci/names/") && !value.isEmpty {
            #expect(matches("/local/pci/names/{hash1}/{hash2}/{name}", value))
        }
        #expect(matches("/local/pci/schema", PCIStoreLayout.schemaVersion))
    }

    @Test(arguments: ["host.xenstore"])
    func exampleDumpsDecodeAndReencodeByteForByte(_ file: String) throws {
        let text = try String(contentsOf: Self.schemaDirectory.appendingPathComponent("examples/\(file)"), encoding: .utf8)
        let reading = DatabaseImage.read(try DatabaseImage.parseXenstoreText(text))
        #expect(reading.violations.isEmpty, "\(reading.violations)")
        #expect(reading.image.xenstoreText == text)
    }
}

enum Generate {
    static func record(_ rng: inout SplitMix) -> DeviceRecord {
        let a = try! SBDF(segment: UInt16.random(in: 0...2, using: &rng), bus: .random(in: 0...255, using: &rng),
                          device: .random(in: 0...31, using: &rng), function: .random(in: 0...7, using: &rng))
        let kinds = PCIBar.Kind.allCases
        let bars = (0..<6).filter { _ in Bool.random(using: &rng) }.map {
            PCIBar(index: UInt8($0), kind: kinds.randomElement(using: &rng)!, start: .random(in: 0...UInt64.max, using: &rng),
                   size: .random(in: 1...UInt64.max, using: &rng))
        }
        let state = DeviceState.allCases.randomElement(using: &rng)!
        var fns = Set((0..<8).filter { _ in Bool.random(using: &rng) }.map(UInt8.init))
        fns.insert(a.function)
        let vfs = (0..<Int.random(in: 0...3, using: &rng)).map { _ in
            try! SBDF(segment: a.segment, bus: .random(in: 0...255, using: &rng), device: .random(in: 0...31, using: &rng),
                      function: .random(in: 0...7, using: &rng))
        }
        let grouped = Bool.random(using: &rng)
        return DeviceRecord(
            address: a,
            identity: PCIIdentity(vendor: .random(in: 0...0xffff, using: &rng), device: .random(in: 0...0xffff, using: &rng),
                                  subsystemVendor: .random(in: 0...0xffff, using: &rng), subsystemDevice: .random(in: 0...0xffff, using: &rng),
                                  classCode: .random(in: 0...0xffffff, using: &rng), revision: .random(in: 0...255, using: &rng)),
            topology: PCITopology(slotFunctions: Array(fns), iommuGroup: grouped ? .random(in: 0...1000, using: &rng) : nil,
                                  groupMembers: grouped ? Array(Set([a] + vfs)) : [],
                                  physfn: vfs.isEmpty && Bool.random(using: &rng) ? try! a.withFunction(0) : nil,
                                  virtfns: Array(Set(vfs)), numaNode: Int.random(in: -1...3, using: &rng)),
            resources: PCIResources(bars: bars, irq: .random(in: 0...255, using: &rng), msi: .random(using: &rng), msix: .random(using: &rng)),
            state: state,
            domain: state == .assigned ? try! DomID(Int.random(in: 1...32751, using: &rng)) : nil,
            originalDriver: Bool.random(using: &rng) ? try! DriverName(["igb", "e1000e", "virtio-pci", "nvidia", "snd_hda_intel"].randomElement(using: &rng)!) : nil,
            stub: [.assignable, .assigned].contains(state) || Bool.random(using: &rng) ? [DriverName.pciback, .pciStub, .vfioPCI].randomElement(using: &rng)! : nil,
            name: Bool.random(using: &rng) ? try! DeviceName("dev\(UInt32.random(in: 0...UInt32.max, using: &rng))") : nil,
            lastReset: [nil, "flr", "bus", "pm"].randomElement(using: &rng)!,
            changed: ChangeStamp(time: .random(in: 0...4_000_000_000, using: &rng), domain: .random(in: 0...100, using: &rng),
                                 tool: "pcistore", operation: ["discover", "assign", "release", "assignable-add"].randomElement(using: &rng)!),
            splitOverride: state == .assigned && Bool.random(using: &rng))
    }
}
