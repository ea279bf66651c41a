import Foundation
import Testing
import PCIStore
import PCIStoreSchema
import PCITestSupport
import XenStore
import XenStoreTestSupport

/// Every operation and invariant, on the embedded engine and on the real
/// xenstored, over a fake host whose kernel stand-in really moves drivers.
@Suite struct DatabaseTests {
    @Test(arguments: Backend.allCases)
    func discoverRecordsTheBusAndIsIdempotent(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        let first = try f.db.discover(sysfs: f.sysfs)
        #expect(first.devices.count == 9)
        let igb = try f.record("03:00.1")
        #expect(igb.state == .present)
        #expect(igb.originalDriver?.rawValue == "igb")
        #expect(igb.topology.groupMembers == [sbdf("03:00.0"), sbdf("03:00.1")])
        #expect(try f.record("00:02.0").resources.bars.last?.start == 0x40_0008_0000)
        #expect(try f.store.permissions(PCIStoreLayout.root).description == "n0")
        #expect(try f.store.readString(PCIStoreLayout.schemaNode) == "1")
        let again = try f.db.discover(sysfs: f.sysfs)
        #expect(again.changes.isEmpty)
        #expect(try f.db.read().violations.isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func seizeRemembersTheDriverAndHoldsTheDeviceWithTheStub(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.discover(sysfs: f.sysfs)
        let r = try f.db.assignableAdd([sbdf("03:00.0"), sbdf("03:00.1")], stub: .pciStub, sysfs: f.sysfs)
        #expect(r.devices.map(\.state) == [.assignable, .assignable])
        #expect(f.host.driver(of: "0000:03:00.0") == "pci-stub")
        #expect(f.host.driver(of: "0000:03:00.1") == "pci-stub")
        let rec = try f.record("03:00.0")
        #expect(rec.originalDriver?.rawValue == "igb" && rec.stub == .pciStub)
        #expect(try f.store.directory(PCIStoreLayout.pending).isEmpty)
        #expect(try f.db.check(sysfs: f.sysfs, repair: false).problems.isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func aFailedSeizeGivesEverythingBackAndChangesNothing(_ backend: Backend) throws {
        let f = try PCIFixture(backend, settleTimeout: 0.3)
        _ = try f.db.discover(sysfs: f.sysfs)
        let before = try f.tree()
        try f.host.refuse("vfio-pci")
        do {
            _ = try f.db.assignableAdd([sbdf("03:00.0"), sbdf("05:00.0")], stub: .vfioPCI, sysfs: f.sysfs)
            Issue.record("seized with a refusing stub")
        } catch let e as PCIStoreError {
            #expect(e.kind == .sysfs)
            #expect(e.message.contains("database is unchanged"))
        }
        #expect(f.host.driver(of: "0000:03:00.0") == "igb")
        #expect(f.host.driver(of: "0000:05:00.0") == "e1000")
        #expect(try f.tree() == before)
    }

    @Test(arguments: Backend.allCases)
    func aStubThatIsNotLoadedIsRefusedBeforeAnythingMoves(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.discover(sysfs: f.sysfs)
        try f.host.unload("pciback")
        let before = try f.tree()
        #expect(throws: PCIStoreError.self) { try f.db.assignableAdd([sbdf("05:00.0")], stub: .pciback, sysfs: f.sysfs) }
        #expect(try f.tree() == before)
        #expect(f.host.log(waitingUntil: { !$0.isEmpty }, seconds: 0.3).isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func assignTakesTheWholeSlotAndGroupAndResetsThem(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.assignableAdd([sbdf("03:00.0"), sbdf("03:00.1")], stub: .pciback, sysfs: f.sysfs)
        let r = try f.db.assign([sbdf("03:00.0")], to: DomID(5), sysfs: f.sysfs)
        #expect(r.devices.map(\.address) == [sbdf("03:00.0"), sbdf("03:00.1")])
        for a in ["03:00.0", "03:00.1"] {
            let rec = try f.record(a)
            #expect(try rec.state == .assigned && rec.domain == DomID(5) && rec.lastReset == "flr")
        }
        let resets = f.host.log(waitingUntil: { $0.filter { $0.hasPrefix("reset") }.count >= 2 }).filter { $0.hasPrefix("reset") }
        #expect(resets == ["reset 0000:03:00.0 flr", "reset 0000:03:00.1 flr"])
        #expect(try f.db.read().violations.isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func assignRefusesToSplitAGroupUnlessToldAndThenRecordsIt(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.assignableAdd([sbdf("03:00.0")], stub: .pciback, sysfs: f.sysfs)
        let before = try f.tree()
        do {
            _ = try f.db.assign([sbdf("03:00.0")], to: DomID(5), sysfs: f.sysfs)
            Issue.record("split a group")
        } catch let e as PCIStoreError {
            #expect(e.kind == .refused)
            #expect(e.message.hasPrefix("0000:03:00.1 shares IOMMU group 7 with 0000:03:00.0 and is not assignable"))
        }
        #expect(try f.tree() == before)
        _ = try f.db.assign([sbdf("03:00.0")], to: DomID(5), allowSplit: true, sysfs: f.sysfs)
        let rec = try f.record("03:00.0")
        #expect(rec.splitOverride && rec.state == .assigned)
        #expect(try f.store.readString(PCIStoreLayout.node(sbdf("03:00.0"), "override")) == "split")
        #expect(try f.db.read().violations.isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func deviceWithoutResetMethodIsRecordedAsSuch(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.assignableAdd([sbdf("05:00.0")], stub: .pciStub, sysfs: f.sysfs)
        _ = try f.db.assign([sbdf("05:00.0")], to: DomID(9), sysfs: f.sysfs)
        #expect(try f.record("05:00.0").lastReset == "unsupported")
    }

    @Test(arguments: Backend.allCases)
    func releaseReturnsTheResourcesRecordedAtAssignment(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.assignableAdd([sbdf("04:00.0"), sbdf("04:00.1")], stub: .vfioPCI, sysfs: f.sysfs)
        _ = try f.db.assign([sbdf("04:00.1")], to: DomID(7), sysfs: f.sysfs)
        let recorded = try f.record("04:00.0").resources
        // The kernel moves the BAR meanwhile; release must not pick that up.
        let resource = f.host.root + "/bus/pci/devices/0000:04:00.0/resource"
        try String(repeating: "0x0000000000001000 0x0000000000001fff 0x0000000000040200\n", count: 13).write(toFile: resource, atomically: false, encoding: .utf8)
        _ = try f.db.discover(sysfs: f.sysfs)
        let r = try f.db.release([sbdf("04:00.0")], sysfs: f.sysfs)
        #expect(r.devices.map(\.address) == [sbdf("04:00.0"), sbdf("04:00.1")])
        #expect(r.devices.first?.resources == recorded)
        #expect(try f.record("04:00.0").state == .assignable)
        #expect(try f.record("04:00.0").lastReset == "bus")
    }

    @Test(arguments: Backend.allCases)
    func releaseByDomain(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.assignableAdd([sbdf("03:00.0"), sbdf("03:00.1"), sbdf("05:00.0")], stub: .pciback, sysfs: f.sysfs)
        _ = try f.db.assign([sbdf("03:00.0")], to: DomID(3), sysfs: f.sysfs)
        _ = try f.db.assign([sbdf("05:00.0")], to: DomID(4), sysfs: f.sysfs)
        let r = try f.db.release(domain: DomID(3), sysfs: f.sysfs)
        #expect(r.devices.map(\.address) == [sbdf("03:00.0"), sbdf("03:00.1")])
        #expect(try f.record("05:00.0").domain == (try DomID(4)))
    }

    @Test(arguments: Backend.allCases)
    func assignableRemoveRefusesWhileAssignedAndRebinds(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.assignableAdd([sbdf("05:00.0")], name: DeviceName("nic9"), stub: .pciStub, sysfs: f.sysfs)
        _ = try f.db.assign([sbdf("05:00.0")], to: DomID(2), sysfs: f.sysfs)
        #expect(throws: PCIStoreError.self) { try f.db.assignableRemove(sbdf("05:00.0"), rebind: true, sysfs: f.sysfs) }
        _ = try f.db.release([sbdf("05:00.0")], sysfs: f.sysfs)
        #expect(try f.db.resolve("nic9") == sbdf("05:00.0"))
        _ = try f.db.assignableRemove(sbdf("05:00.0"), rebind: true, sysfs: f.sysfs)
        #expect(f.host.driver(of: "0000:05:00.0") == "e1000")
        let rec = try f.record("05:00.0")
        #expect(rec.state == .present && rec.stub == nil && rec.name == nil)
        #expect(throws: PCIStoreError.self) { try f.db.resolve("nic9") }
        #expect(try f.db.check(sysfs: f.sysfs, repair: false).problems.isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func assignableRemoveWithoutRebindLeavesTheStubHolding(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.assignableAdd([sbdf("05:00.0")], stub: .pciStub, sysfs: f.sysfs)
        _ = try f.db.assignableRemove(sbdf("05:00.0"), rebind: false, sysfs: f.sysfs)
        #expect(f.host.driver(of: "0000:05:00.0") == "pci-stub")
        #expect(try f.record("05:00.0").state == .present)
        #expect(throws: PCIStoreError.self) { try f.db.assign([sbdf("05:00.0")], to: DomID(2), sysfs: f.sysfs) }
        // And later it can still go home.
        _ = try f.db.assignableRemove(sbdf("05:00.0"), rebind: true, sysfs: f.sysfs)
        #expect(f.host.driver(of: "0000:05:00.0") == "e1000")
    }

    @Test(arguments: Backend.allCases)
    func badInputChangesNothing(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.assignableAdd([sbdf("05:00.0")], name: DeviceName("nic9"), stub: .pciStub, sysfs: f.sysfs)
        let before = try f.tree()
        func refused(_ kind: PCIStoreError.Kind, _ body: () throws -> Void) {
            do { try body(); Issue.record("accepted") } catch let e as PCIStoreError { #expect(e.kind == kind, "\(e)") } catch {
                Issue.record("\(error)")
            }
        }
        refused(.badInput) { _ = try f.db.assign([sbdf("05:00.0")], to: .dom0, sysfs: f.sysfs) }
        refused(.badInput) { _ = try f.db.assign([sbdf("0000:77:00.0")], to: DomID(3), sysfs: f.sysfs) }
        refused(.badInput) { _ = try f.db.assignableAdd([sbdf("0000:77:00.0")], stub: .pciStub, sysfs: f.sysfs) }
        refused(.refused) { _ = try f.db.assignableAdd([sbdf("06:00.0")], name: DeviceName("nic9"), stub: .pciStub, sysfs: f.sysfs) }
        refused(.badInput) { _ = try f.db.assignableAdd([sbdf("06:00.0"), sbdf("06:10.0")], name: DeviceName("two"), stub: .pciStub, sysfs: f.sysfs) }
        refused(.badInput) { _ = try f.db.resolve("0000:03:00.0;rm") }
        refused(.badInput) { _ = try f.db.release([], sysfs: f.sysfs) }
        #expect(try f.tree() == before)
        #expect(f.host.driver(of: "0000:06:00.0") == "ixgbe")
    }

    @Test(arguments: Backend.allCases)
    func dryRunsSayWhatTheyWouldDoAndDoNothing(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.discover(sysfs: f.sysfs)
        let before = try f.tree()
        let plan = try f.db.assignableAdd([sbdf("03:00.0")], stub: .pciStub, sysfs: f.sysfs, dryRun: true)
        #expect(plan.actions == [
            "sysfs: write bus/pci/drivers/igb/unbind = 0000:03:00.0",
            "sysfs: write bus/pci/devices/0000:03:00.0/driver_override = pci-stub",
            "sysfs: write bus/pci/drivers_probe = 0000:03:00.0 (expect pci-stub)",
        ])
        #expect(plan.changes.contains(.write(PCIStoreLayout.node(sbdf("03:00.0"), "state"), "seizing")))
        #expect(plan.changes.contains(.write(PCIStoreLayout.node(sbdf("03:00.0"), "state"), "assignable")))
        #expect(try f.tree() == before)
        #expect(f.host.log(waitingUntil: { !$0.isEmpty }, seconds: 0.3).isEmpty)
        _ = try f.db.assignableAdd([sbdf("03:00.0"), sbdf("03:00.1")], stub: .pciStub, sysfs: f.sysfs)
        let mid = try f.tree()
        let assign = try f.db.assign([sbdf("03:00.0")], to: DomID(4), sysfs: f.sysfs, dryRun: true)
        #expect(assign.actions.count == 2)
        #expect(assign.changes.contains(.write(PCIStoreLayout.node(sbdf("03:00.1"), "domain"), "4")))
        #expect(try f.tree() == mid)
    }

    @Test(arguments: Backend.allCases)
    func aSeizeLeftByAKilledCommandIsFinishedOrRolledBack(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.discover(sysfs: f.sysfs)
        // Pretend a command (a pid that no longer runs) got as far as the
        // journal on two devices, and moved only one of them on the bus.
        let dead = PendingOperation(kind: .seize, pid: 999_999, start: 1)
        for a in ["03:00.0", "05:00.0"] {
            var r = try f.record(a)
            r.state = .seizing
            r.stub = .pciStub
            try f.store.write(PCIStoreLayout.node(r.address, "state"), "seizing")
            try f.store.write(PCIStoreLayout.node(r.address, "stub"), "pci-stub")
            try f.store.write(PCIStoreLayout.pending(r.address), dead.encoded)
        }
        let s = f.sysfs
        try s.unbind(sbdf("03:00.0"), from: DriverName("igb"))
        try s.setOverride(sbdf("03:00.0"), .pciStub)
        try s.probe(sbdf("03:00.0"), expecting: .pciStub)
        #expect(try f.db.check(sysfs: nil, repair: false).problems.count == 2)
        let log = try f.db.recover(sysfs: f.sysfs)
        #expect(log.count == 2)
        #expect(try f.record("03:00.0").state == .assignable)
        #expect(try f.record("05:00.0").state == .present)
        #expect(f.host.driver(of: "0000:05:00.0") == "e1000")
        #expect(try f.db.check(sysfs: f.sysfs, repair: false).problems.isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func garbageWrittenBySomeoneElseIsReportedWithItsPath(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.discover(sysfs: f.sysfs)
        _ = try f.db.assignableAdd([sbdf("05:00.0")], name: DeviceName("nic9"), stub: .pciStub, sysfs: f.sysfs)
        try f.store.write(PCIStoreLayout.node(sbdf("03:00.0"), "state"), "exploded\u{7}")
        try f.store.write(PCIStoreLayout.node(sbdf("03:00.1"), "resources"), "irq=zz")
        try f.store.write("/local/pci/devices/0000/03/junk", "x")
        try f.store.remove(PCIStoreLayout.name(DeviceName("nic9")))
        let check = try f.db.check(sysfs: nil, repair: false)
        let paths = check.problems.map(\.path)
        #expect(paths.contains("/local/pci/devices/0000/03/0000-03-00-0/state"))
        #expect(paths.contains("/local/pci/devices/0000/03/0000-03-00-1/resources"))
        #expect(paths.contains("/local/pci/devices/0000/03/junk"))
        #expect(paths.contains(PCIStoreLayout.name(try DeviceName("nic9")).rawValue))
        // Operations on a corrupt device refuse with the path; others still work.
        do {
            _ = try f.db.assignableAdd([sbdf("03:00.0")], stub: .pciStub, sysfs: f.sysfs)
            Issue.record("used a corrupt record")
        } catch let e as PCIStoreError {
            #expect(e.kind == .corrupt && e.message.contains("0000-03-00-0/state"))
        }
        _ = try f.db.assign([sbdf("05:00.0")], to: DomID(3), sysfs: f.sysfs)
        let untouched = try f.tree()
        let planned = try f.db.check(sysfs: nil, repair: true, dryRun: true)
        #expect(planned.repaired == ["would have indexed \(PCIStoreLayout.name(try DeviceName("nic9"))) = 0000-05-00-0"])
        #expect(try f.tree() == untouched)
        let repaired = try f.db.check(sysfs: nil, repair: true)
        #expect(repaired.repaired == ["indexed \(PCIStoreLayout.name(try DeviceName("nic9"))) = 0000-05-00-0"])
    }

    @Test(arguments: Backend.allCases)
    func dumpAndRestoreRoundTripInBothForms(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.assignableAdd([sbdf("03:00.0"), sbdf("03:00.1")], name: nil, stub: .pciback, sysfs: f.sysfs)
        _ = try f.db.assignableAdd([sbdf("05:00.0")], name: DeviceName("nic9"), stub: .pciback, sysfs: f.sysfs)
        _ = try f.db.assign([sbdf("03:00.1")], to: DomID(6), sysfs: f.sysfs)
        _ = try f.db.discover(sysfs: f.sysfs)
        let image = try f.db.read().image
        let text = image.xenstoreText
        let json = DatabaseJSON.encode(Array(image.devices.values))
        for entries in [try DatabaseImage.parseXenstoreText(text), try DatabaseJSON.entries(fromJSON: Array(json.utf8))] {
            let g = try PCIFixture(.engine)
            _ = try g.db.restore(entries, replace: false)
            #expect(try g.db.read().image.xenstoreText == text)
            #expect(throws: PCIStoreError.self) { try g.db.restore(entries, replace: false) }
            _ = try g.db.restore(entries, replace: true)
            #expect(try g.db.read().image == image)
        }
        var broken = try DatabaseImage.parseXenstoreText(text)
        broken[5].1 = "nonsense"
        #expect(throws: PCIStoreError.self) { try PCIFixture(.engine).db.restore(broken, replace: false) }
    }

    /// Threads with their own connections assign overlapping device sets to
    /// different domains at once; afterwards nothing is owned twice and no
    /// slot or group is split.
    @Test(arguments: Backend.allCases)
    func racingAssignmentsNeverSplitOrDoubleAssign(_ backend: Backend) async throws {
        let f = try PCIFixture(backend)
        let all = ["03:00.0", "03:00.1", "04:00.0", "04:00.1", "05:00.0", "06:10.0"].map(sbdf)
        _ = try f.db.assignableAdd(all, stub: .pciStub, sysfs: f.sysfs)
        let wins = try await withThrowingTaskGroup(of: Int.self) { group in
            for domain in 1...4 {
                let db = PCIDatabase(store: try f.connect())
                let sysfs = f.sysfs
                group.addTask {
                    var won = 0
                    for round in 0..<6 {
                        let pick = [all[(domain + round) % all.count], all[(domain * 3 + round) % all.count]]
                        if (try? db.assign(pick, to: DomID(domain), sysfs: sysfs)) != nil { won += 1 }
                        if round % 2 == 1 { _ = try? db.release(domain: DomID(domain), sysfs: sysfs) }
                    }
                    return won
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(wins > 0)
        let reading = try f.db.read()
        #expect(reading.violations.isEmpty, "\(reading.violations)")
        for r in reading.image.devices.values where r.state == .assigned {
            for p in r.peers { #expect(reading.image.devices[p]?.domain == r.domain) }
        }
    }
}

@Suite struct ResetFailureAndJSONTests {
    @Test(arguments: Backend.allCases)
    func aReleaseWhoseResetFailsSaysSoAndCheckFlagsIt(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.assignableAdd([sbdf("05:00.0")], stub: .pciStub, sysfs: f.sysfs)
        _ = try f.db.assign([sbdf("05:00.0")], to: DomID(3), sysfs: f.sysfs)
        // The kernel refuses the reset (here: the attribute cannot be written).
        let reset = f.host.root + "/bus/pci/devices/0000:05:00.0/reset"
        try? FileManager.default.removeItem(atPath: reset)
        try FileManager.default.createDirectory(atPath: reset, withIntermediateDirectories: false)
        let r = try f.db.release([sbdf("05:00.0")], sysfs: f.sysfs)
        #expect(r.notes.contains { $0.hasPrefix("warning: 0000:05:00.0 could not be reset") })
        #expect(try f.record("05:00.0").lastReset == "failed")
        let check = try f.db.check(sysfs: nil, repair: false)
        #expect(check.problems.map(\.path) == [PCIStoreLayout.node(sbdf("05:00.0"), "reset").rawValue])
    }

    @Test func absentValuesAreNullNotMissing() throws {
        let r = DeviceRecord(address: sbdf("03:00.0"), identity: PCIIdentity(vendor: 1, device: 2),
                             changed: ChangeStamp(time: 0, operation: "discover"))
        let object = try JSONSerialization.jsonObject(with: Data(DatabaseJSON.encodeValue(DatabaseJSON.device(r)).utf8)) as! [String: Any]
        for key in ["domain", "name", "driver", "stub", "reset"] {
            #expect(object.keys.contains(key) && object[key] is NSNull, "\(key)")
        }
        let topology = object["topology"] as! [String: Any]
        #expect(topology["iommu_group"] is NSNull && topology["physfn"] is NSNull)
    }
}

@Suite struct InconsistentRecordTests {
    /// Values that each parse but break the rules together (assigned with no
    /// domain, assignable with no stub): reads, check and operations report
    /// them, and nothing traps.
    @Test(arguments: Backend.allCases)
    func inconsistentButParseableRecordsAreReportedNotTrappedOn(_ backend: Backend) throws {
        let f = try PCIFixture(backend)
        _ = try f.db.assignableAdd([sbdf("03:00.0"), sbdf("03:00.1")], stub: .pciStub, sysfs: f.sysfs)
        try f.store.write(PCIStoreLayout.node(sbdf("03:00.0"), "state"), "assigned")
        try f.store.write(PCIStoreLayout.node(sbdf("03:00.1"), "stub"), "none")
        let reading = try f.db.read()
        #expect(reading.violations.contains { $0.problem.contains("state assigned with domain none") })
        #expect(reading.violations.contains { $0.problem.contains("assignable but no stub") })
        #expect(try f.db.check(sysfs: f.sysfs, repair: false).problems.count >= 2)
        for attempt in [{ _ = try f.db.assign([sbdf("03:00.0")], to: DomID(2), sysfs: f.sysfs) },
                        { _ = try f.db.assign([sbdf("03:00.1")], to: DomID(2), sysfs: f.sysfs) },
                        { _ = try f.db.assignableAdd([sbdf("03:00.0")], stub: .pciStub, sysfs: f.sysfs) },
                        { _ = try f.db.release([sbdf("03:00.0")], sysfs: f.sysfs) },
                        { _ = try f.db.assignableRemove(sbdf("03:00.0"), rebind: true, sysfs: f.sysfs) }] as [() throws -> Void] {
            #expect(throws: PCIStoreError.self) { try attempt() }
        }
    }
}
