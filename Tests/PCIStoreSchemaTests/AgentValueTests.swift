import Foundation
import Testing
@testable import PCIStoreSchema
import XenStore
import XenStoreTestSupport

/// The agent protocol's values (schema/agent.md): round trips, refusals of
/// what the schema does not allow, the sizes that keep an agent inside
/// cxenstored's quotas, and the permissions of every node.
@Suite struct AgentValueTests {
    static let a = try! SBDF("0000:03:00.0"), b = try! SBDF("0000:03:00.1")

    @Test func requestsRoundTripAndRefuseWhatTheSchemaDoesNot() throws {
        let r = AgentRequest(id: try RequestID("r1-42-ab"), operation: .seize, devices: [Self.b, Self.a], driver: .pciback,
                             pid: 42, start: 1234, at: 1_764_100_800)
        #expect(r.encoded == "id=r1-42-ab op=seize devices=0000-03-00-0,0000-03-00-1 driver=pciback pid=42 start=1234 at=1764100800")
        #expect(try AgentRequest.decode(r.encoded, at: "p") == r)
        #expect(try AgentRequest.decode("none", at: "p") == nil)
        for bad in [
            "id=x op=seize devices=0000-03-00-0 driver=none pid=1 start=1 at=1",        // seize without a stub
            "id=x op=reset devices=none driver=none pid=1 start=1 at=1",                // reset of nothing
            "id=x op=rediscover devices=0000-03-00-0 driver=none pid=1 start=1 at=1",
            "id=x op=frobnicate devices=none driver=none pid=1 start=1 at=1",
            "id=x op=reset devices=0000-03-00-1,0000-03-00-0 driver=none pid=1 start=1 at=1", // not ascending
            "id=a:b op=reset devices=0000-03-00-0 driver=none pid=1 start=1 at=1",
            "op=reset id=x devices=0000-03-00-0 driver=none pid=1 start=1 at=1",
            "id=x op=reset devices=0000-03-00-0 driver=none pid=-1 start=1 at=1",
        ] {
            #expect(throws: SchemaViolation.self, "\(bad)") { try AgentRequest.decode(bad, at: "p") }
        }
        let many = (0..<25).map { try! SBDF(bus: 3, device: UInt8($0), function: 0) }
        #expect(AgentRequest(id: try RequestID("m"), operation: .reset, devices: many).problem != nil)
        #expect(throws: SchemaViolation.self) { try RequestID("none") }
        #expect(throws: SchemaViolation.self) { try RequestID(String(repeating: "x", count: 65)) }
        let made = RequestID.make(time: 1_764_100_800, pid: 4242)
        #expect(made.rawValue.hasPrefix("r") && made.rawValue.contains("-4242-"))
    }

    @Test func resultsHeartbeatsConfigsAndIndexesRoundTrip() throws {
        let res = AgentResult(id: try RequestID("x"), operation: .reset, state: .failed, at: 5, outcome: ["flr", "failed"])
        #expect(res.encoded == "id=x op=reset state=failed at=5 outcome=flr,failed")
        #expect(try AgentResult.decode(res.encoded, at: "") == res)
        #expect(try AgentResult.decode("id=x op=rediscover state=done at=5 outcome=none", at: "")?.outcome == [])
        #expect(throws: SchemaViolation.self) { try AgentResult.decode("id=x op=reset state=maybe at=5 outcome=none", at: "") }
        #expect(throws: SchemaViolation.self) { try AgentResult.decode("id=x op=reset state=done at=5 outcome=a,,b", at: "") }

        let h = AgentHeartbeat(seq: 812, pid: 311, intervalMilliseconds: 2000, at: 9, state: .stopped)
        #expect(h.encoded == "seq=812 pid=311 interval=2000 at=9 state=stopped")
        #expect(try AgentHeartbeat.decode(h.encoded, at: "") == h)
        #expect(try AgentHeartbeat.decode("none", at: "") == nil)

        let c = AgentConfig(claim: .buses([PCIBusAddress(bus: 4), try PCIBusAddress("0000:03")]), slots: 8, pages: 10)
        #expect(c.encoded == "buses=0000-03,0000-04 slots=8 pages=10")
        #expect(try AgentConfig(decoding: c.encoded, at: "") == c)
        #expect(try AgentConfig(decoding: "buses=all slots=16 pages=86", at: "").claim == .all)
        for bad in ["buses=0000:03 slots=1 pages=1", "buses= slots=1 pages=1", "buses=all slots=0 pages=1", "buses=all slots=65 pages=1"] {
            #expect(throws: SchemaViolation.self, "\(bad)") { try AgentConfig(decoding: bad, at: "") }
        }
        #expect(try c.claim.covers(Self.a) && !c.claim.covers(SBDF("05:00.0")))
        #expect(c.claim.overlaps(.all) && !c.claim.overlaps(.buses([PCIBusAddress(bus: 5)])))

        let i = DiscoveryIndex(generation: 3, devices: 9, pages: 2, stubs: [.pciback, .pciStub], at: 7)
        #expect(i.encoded == "generation=3 devices=9 pages=2 stubs=pciback,pci-stub at=7")
        #expect(try DiscoveryIndex.decode(i.encoded, at: "") == i)
    }

    /// Entries leave the topology's lists out and the toolstack rebuilds
    /// them from the whole bus; they round trip, and are bounded.
    @Test func discoveryEntriesRoundTripAndTheTopologyIsRebuilt() throws {
        let pf = try SBDF("0000:06:00.0"), vf1 = try SBDF("0000:06:10.0"), vf2 = try SBDF("0000:06:10.2")
        let bars = [PCIBar(index: 0, kind: .mem32, start: 0xfe00_0000, size: 0x2_0000), PCIBar(index: 3, kind: .mem64p, start: 1 << 40, size: 1 << 20)]
        let entries = [
            DiscoveryEntry(address: Self.a, driver: try DriverName("igb"), identity: PCIIdentity(vendor: 0x8086, device: 0x10c9),
                           iommuGroup: 7, numaNode: 0, resources: PCIResources(bars: bars, irq: 16, msi: true)),
            DiscoveryEntry(address: Self.b, driver: nil, identity: PCIIdentity(vendor: 0x8086, device: 0x10c9), iommuGroup: 7),
            DiscoveryEntry(address: pf, driver: try DriverName("ixgbe"), identity: PCIIdentity(vendor: 0x8086, device: 0x10fb), iommuGroup: 13),
            DiscoveryEntry(address: vf1, driver: nil, identity: PCIIdentity(vendor: 0x8086, device: 0x10ed), physfn: pf),
            DiscoveryEntry(address: vf2, driver: nil, identity: PCIIdentity(vendor: 0x8086, device: 0x10ed), physfn: pf),
        ]
        for e in entries { #expect(try DiscoveryEntry(decoding: e.encoded, at: "") == e) }
        #expect(entries[0].encoded == "address=0000-03-00-0 driver=igb vendor=8086 device=10c9 subvendor=0000 subdevice=0000 class=000000 revision=00 iommu-group=7 physfn=none numa=0 irq=16 msi=1 msix=0 bar0=mem32:0x00000000fe000000+0x0000000000020000 bar3=mem64p:0x0000010000000000+0x0000000000100000")
        let t = DiscoveryEntry.topologies(entries)
        #expect(t[Self.a] == PCITopology(slotFunctions: [0, 1], iommuGroup: 7, groupMembers: [Self.a, Self.b], numaNode: 0))
        #expect(t[pf]?.virtfns == [vf1, vf2] && t[vf2]?.physfn == pf && t[vf2]?.slotFunctions == [0, 2])
        #expect(DiscoveryEntry.maxEncodedLength < AgentLayout.pageBytes / 3)

        let pages = DiscoveryEntry.pages(entries + entries.map { var e = $0; e.address = try! SBDF(bus: 9, device: e.address.device, function: e.address.function); return e },
                                         pageBytes: 700)
        #expect(pages.allSatisfy { $0.utf8.count <= 700 } && pages.count > 1)
        let back = try pages.flatMap { try DiscoveryEntry.entries(ofPage: $0, at: "") }
        #expect(back.count == 10 && back == back.sorted { $0.address < $1.address })
        #expect(throws: SchemaViolation.self) { try DiscoveryEntry.entries(ofPage: "address=0000-03-00-0 driver=igb", at: "") }
    }

    /// cxenstored refuses an unprivileged node of 2048 bytes or more, counting
    /// a 24-byte header and 8 bytes a permission: every value the agent
    /// writes stays under that, and the default pages hold 256 of the
    /// longest entries.
    @Test func everythingTheAgentWritesFitsANode() throws {
        let overhead = 24 + 8 * 2
        #expect(AgentLayout.pageBytes + overhead < XenStoreQuotas.cxenstored.entrySize)
        let longest = String(repeating: "d", count: 64)
        let result = AgentResult(id: try RequestID(String(repeating: "i", count: 64)), operation: .rebind, state: .running,
                                 at: Int64.max, outcome: Array(repeating: longest, count: AgentLayout.maxDevicesPerRequest))
        #expect(result.encoded.utf8.count <= AgentLayout.pageBytes, "\(result.encoded.utf8.count)")
        // The numbers schema/agent.md gives.
        #expect(DiscoveryEntry.maxEncodedLength == 553)
        #expect(AgentLayout.defaultPages == 86)
        #expect(result.encoded.utf8.count == 1682)
        #expect(AgentLayout.maxReasonBytes <= AgentLayout.pageBytes)
        let beat = AgentHeartbeat(seq: .max, pid: .max, intervalMilliseconds: 86_400_000, at: .max)
        #expect(beat.encoded.utf8.count <= AgentLayout.pageBytes)
        let perPage = (AgentLayout.pageBytes + 1) / (DiscoveryEntry.maxEncodedLength + 1)
        #expect(AgentLayout.defaultPages * perPage >= 256)
        // dom0 creates all of it: the area's size is no quota of the agent's.
        #expect(AgentLayout.nodes(try DomID(7), AgentConfig()).count < 200)
    }

    /// Who may do what, node by node.
    @Test(arguments: [
        ("/local/pci", "n0"), ("/local/pci/devices/0000/03/0000-03-00-0/state", "n0"), ("/local/pci/agents", "n0"),
        ("/local/pci/agents/7", "n0 r7"), ("/local/pci/agents/7/config", "n0 r7"), ("/local/pci/agents/7/heartbeat", "n0 b7"),
        ("/local/pci/agents/7/requests", "n0 r7"), ("/local/pci/agents/7/requests/3", "n0 r7"),
        ("/local/pci/agents/7/results", "n0 r7"), ("/local/pci/agents/7/results/3", "n0 b7"), ("/local/pci/agents/7/reasons/15", "n0 b7"),
        ("/local/pci/agents/7/discovery", "n0 r7"), ("/local/pci/agents/7/discovery/index", "n0 b7"), ("/local/pci/agents/7/discovery/85", "n0 b7"),
        ("/local/pci/agents/7/extra", "n0"), ("/local/pci/agents/7/results/x", "n0"), ("/local/pci/agents/0/heartbeat", "n0"),
        ("/local/pci/agents/007/heartbeat", "n0"),
    ])
    func everyNodeHasItsPermissions(_ path: String, _ expected: String) throws {
        #expect(AgentLayout.expectedPermissions(try XenStorePath(path)).description == expected)
    }

    /// An area read back from its nodes, with what is wrong in it.
    @Test func anAreaReadsBackAndItsProblemsAreNamed() throws {
        let d = try DomID(7)
        var entries = AgentLayout.nodes(d, AgentConfig(slots: 2, pages: 2))
        let req = AgentRequest(id: try RequestID("q"), operation: .reset, devices: [Self.a, Self.b], pid: 1, start: 1, at: 1)
        entries = entries.map { p, v in
            if p == AgentLayout.request(d, 1) { return (p, req.encoded) }
            if p == AgentLayout.result(d, 1) { return (p, "id=q op=reset state=done at=2 outcome=flr") }
            return (p, v)
        } + [(try AgentLayout.area(d).appending("junk"), "x")]
        let reading = AgentArea.read(entries)
        let area = try #require(reading.areas[d])
        #expect(area.slots[1].request == req && area.slots[1].answer?.state == .done && area.slots[0].request == nil)
        #expect(reading.violations.map(\.path).sorted() == ["/local/pci/agents/7/junk", "/local/pci/agents/7/results/1"])
    }

    /// The schema file lists every node of an agent's area.
    @Test func theSchemaFileDescribesTheAgentsArea() throws {
        let d = try SchemaDefinitionTests.definition()
        let paths = Set(d.nodes.map(\.path))
        for p in ["/local/pci/agents", "/local/pci/agents/{domain}", "/local/pci/agents/{domain}/config", "/local/pci/agents/{domain}/heartbeat",
                  "/local/pci/agents/{domain}/requests", "/local/pci/agents/{domain}/requests/{slot}", "/local/pci/agents/{domain}/results",
                  "/local/pci/agents/{domain}/results/{slot}", "/local/pci/agents/{domain}/reasons", "/local/pci/agents/{domain}/reasons/{slot}",
                  "/local/pci/agents/{domain}/discovery", "/local/pci/agents/{domain}/discovery/index", "/local/pci/agents/{domain}/discovery/{page}"] {
            #expect(paths.contains(p), "\(p)")
        }
        let grammar = { (p: String) in try NSRegularExpression(pattern: d.nodes.first { $0.path == p }!.grammar!) }
        func matches(_ p: String, _ v: String) throws -> Bool {
            try grammar(p).firstMatch(in: v, range: NSRange(v.startIndex..., in: v)) != nil
        }
        let req = AgentRequest(id: try RequestID("r1-42-ab"), operation: .seize, devices: [Self.a, Self.b], driver: .pciback, pid: 42, start: 1, at: 2)
        #expect(try matches("/local/pci/agents/{domain}/requests/{slot}", req.encoded))
        #expect(try matches("/local/pci/agents/{domain}/requests/{slot}", "none"))
        #expect(try matches("/local/pci/agents/{domain}/results/{slot}", "id=x op=reset state=failed at=5 outcome=flr,failed"))
        #expect(try matches("/local/pci/agents/{domain}/heartbeat", AgentHeartbeat(seq: 1, pid: 2, intervalMilliseconds: 3, at: 4).encoded))
        #expect(try matches("/local/pci/agents/{domain}/config", AgentConfig().encoded))
        #expect(try matches("/local/pci/agents/{domain}/discovery/index", DiscoveryIndex(generation: 1, devices: 2, pages: 1, stubs: [.pciback], at: 3).encoded))
    }
}
