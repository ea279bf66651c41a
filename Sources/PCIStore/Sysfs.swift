import PCIStoreSchema
import XenStore
#if canImport(Glibc)
import Glibc
#endif

/// What went wrong with a sysfs file, and which.
public struct SysfsError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let problem: String
    public init(path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }
    public var description: String { "\(path): \(problem)" }
}

/// The one narrow door to the PCI bus in sysfs, rooted at a directory
/// (`/sys` on a host; a tree under a temp dir in tests; the guest's `/sys`
/// in the QEMU harness).
///
/// Reads never trap on odd contents. Every write is followed by a check that
/// the kernel did what was asked (the driver link appeared or went away),
/// waiting up to `settleTimeout`: a real kernel acts before `write` returns,
/// a simulated one a moment later, and a refusal shows up as a clear error
/// instead of a half-bound device nobody noticed.
public struct Sysfs: Sendable {
    public let root: String
    public var settleTimeout: Double
    /// Xen, when this bus is a Xen control domain's: seizing then also
    /// quarantines and giving back ends the quarantine, as xl does. Only
    /// ever set for the real `/sys`, never for a tree built by a test.
    public let hypervisor: Hypervisor?

    public init(root: String = "/sys", settleTimeout: Double = 2.0, hypervisor: Hypervisor? = nil) {
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        self.settleTimeout = settleTimeout
        self.hypervisor = hypervisor
    }

    public var devicesDirectory: String { root + "/bus/pci/devices" }
    public func directory(_ a: SBDF) -> String { devicesDirectory + "/" + a.description }
    func driverDirectory(_ d: DriverName) -> String { root + "/bus/pci/drivers/" + d.rawValue }

    // MARK: - Reading

    /// Every PCI function the bus shows, ascending.
    public func devices() throws(SysfsError) -> [SBDF] {
        guard let names = Self.list(devicesDirectory) else {
            throw SysfsError(path: devicesDirectory, "cannot list: \(String(cString: strerror(errno)))")
        }
        return names.compactMap { try? SBDF($0) }.filter { $0.description == $0.description.lowercased() }.sorted()
    }

    public func exists(_ a: SBDF) -> Bool { access(directory(a), F_OK) == 0 }

    /// The driver bound now, from the `driver` link.
    public func driver(of a: SBDF) -> DriverName? {
        Self.linkTarget(directory(a) + "/driver").flatMap { try? DriverName($0) }
    }

    public func isLoaded(_ d: DriverName) -> Bool { access(driverDirectory(d), F_OK) == 0 }

    /// The devices bound to `d` now: the address links in its directory.
    public func bound(to d: DriverName) -> [SBDF] {
        (Self.list(driverDirectory(d)) ?? []).filter { $0.contains(":") }.compactMap { try? SBDF($0) }.sorted()
    }

    /// pciback's `slots`: the devices it was told to take (xl writes its
    /// `new_slot` before binding), one `DDDD:BB:SS.F` per line. Lines that do
    /// not parse are skipped: this file is the kernel's, not ours to judge.
    public func pcibackSlots() -> [SBDF] {
        (Self.readText(driverDirectory(.pciback) + "/slots") ?? "").split(separator: "\n")
            .compactMap { try? SBDF(String($0.filter { $0 != " " && $0 != "\t" })) }.sorted()
    }

    /// The reset methods the kernel offers, in its order of preference; nil
    /// when the device cannot be reset at all (no `reset` file).
    public func resetMethods(_ a: SBDF) -> [String]? {
        guard access(directory(a) + "/reset", F_OK) == 0 else { return nil }
        let listed = Self.readText(directory(a) + "/reset_method")?.split(separator: " ").map(String.init) ?? []
        return listed
    }

    /// What discovery records about one function. `all` is the bus's device
    /// list, for the slot's other functions.
    public func describe(_ a: SBDF, among all: [SBDF]) throws(SysfsError) -> (PCIIdentity, PCITopology, PCIResources) {
        let dir = directory(a)
        func hex(_ name: String, max: UInt64) throws(SysfsError) -> UInt64 {
            guard let text = Self.readText(dir + "/" + name) else {
                throw SysfsError(path: dir + "/" + name, "cannot read: \(String(cString: strerror(errno)))")
            }
            let digits = text.hasPrefix("0x") ? text.dropFirst(2) : Substring(text)
            guard let v = UInt64(digits, radix: 16), v <= max else { throw SysfsError(path: dir + "/" + name, "not hex: \(text)") }
            return v
        }
        let identity = PCIIdentity(
            vendor: UInt16(try hex("vendor", max: 0xffff)), device: UInt16(try hex("device", max: 0xffff)),
            subsystemVendor: UInt16((try? hex("subsystem_vendor", max: 0xffff)) ?? 0),
            subsystemDevice: UInt16((try? hex("subsystem_device", max: 0xffff)) ?? 0),
            classCode: UInt32(try hex("class", max: 0xff_ffff)), revision: UInt8((try? hex("revision", max: 0xff)) ?? 0))

        var group: UInt32? = nil
        var members: [SBDF] = []
        if let g = Self.linkTarget(dir + "/iommu_group"), let n = UInt32(g) {
            group = n
            members = (Self.list(root + "/kernel/iommu_groups/\(g)/devices") ?? []).compactMap { try? SBDF($0) }
            if !members.contains(a) { members.append(a) }
        }
        let virtfns = (Self.list(dir) ?? []).filter { $0.hasPrefix("virtfn") }
            .compactMap { Self.linkTarget(dir + "/" + $0) }.compactMap { try? SBDF($0) }
        let numa = Self.readText(dir + "/numa_node").flatMap { Int($0) }.map { $0 < 0 ? -1 : $0 } ?? -1
        let topology = PCITopology(
            slotFunctions: all.filter { $0.slotName == a.slotName }.map(\.function) + (all.contains(a) ? [] : [a.function]),
            iommuGroup: group, groupMembers: group == nil ? [] : Array(Set(members)),
            physfn: Self.linkTarget(dir + "/physfn").flatMap { try? SBDF($0) },
            virtfns: Array(Set(virtfns)), numaNode: numa)

        let (msi, msix) = capabilities(dir + "/config")
        let resources = PCIResources(bars: bars(dir + "/resource"),
                                     irq: Self.readText(dir + "/irq").flatMap { UInt32($0) } ?? 0, msi: msi, msix: msix)
        return (identity, topology, resources)
    }

    /// The six BAR lines of `resource` (`start end flags`, hex); empty ones skipped.
    func bars(_ path: String) -> [PCIBar] {
        guard let text = Self.readText(path) else { return [] }
        var out: [PCIBar] = []
        for (i, line) in text.split(separator: "\n").prefix(6).enumerated() {
            let f = line.split(separator: " ").map { UInt64($0.hasPrefix("0x") ? $0.dropFirst(2) : $0, radix: 16) }
            guard f.count == 3, let start = f[0], let end = f[1], let flags = f[2], end > start || (end == start && end != 0) else { continue }
            let kind: PCIBar.Kind
            if flags & 0x100 != 0 { kind = .io }
            else if flags & 0x200 != 0 {
                let wide = flags & 0x10_0000 != 0, prefetch = flags & 0x2000 != 0
                kind = wide ? (prefetch ? .mem64p : .mem64) : (prefetch ? .mem32p : .mem32)
            } else { continue }
            out.append(PCIBar(index: UInt8(i), kind: kind, start: start, size: end &- start &+ 1))
        }
        return out
    }

    /// MSI (id 0x05) and MSI-X (0x11) in the capability list of config space.
    func capabilities(_ path: String) -> (Bool, Bool) {
        guard let c = Self.readBytes(path, max: 256), c.count >= 64, c[6] & 0x10 != 0 else { return (false, false) }
        var msi = false, msix = false
        var p = Int(c[0x34] & 0xfc)
        var hops = 0
        while p >= 0x40, p + 1 < c.count, hops < 48 {
            if c[p] == 0x05 { msi = true }
            if c[p] == 0x11 { msix = true }
            p = Int(c[p + 1] & 0xfc)
            hops += 1
        }
        return (msi, msix)
    }

    // MARK: - Writing (each checked)

    /// Writes the address to `drivers/D/unbind`; the `driver` link must go.
    public func unbind(_ a: SBDF, from d: DriverName) throws(SysfsError) {
        try write(driverDirectory(d) + "/unbind", a.description)
        try settle("\(a) to leave \(d)") { driver(of: a) == nil }
    }

    /// Writes the address to `drivers/D/bind`; the device must end up on D.
    public func bind(_ a: SBDF, to d: DriverName) throws(SysfsError) {
        guard isLoaded(d) else { throw SysfsError(path: driverDirectory(d), "driver \(d) is not loaded") }
        try write(driverDirectory(d) + "/bind", a.description)
        try settle("\(a) to bind to \(d)") { driver(of: a) == d }
    }

    /// `driver_override`: which driver alone may take the device (nil clears it).
    public func setOverride(_ a: SBDF, _ d: DriverName?) throws(SysfsError) {
        try write(directory(a) + "/driver_override", d.map { $0.rawValue } ?? "\n")
    }

    /// `drivers_probe`, then the device must be on `expected`.
    public func probe(_ a: SBDF, expecting expected: DriverName) throws(SysfsError) {
        try write(root + "/bus/pci/drivers_probe", a.description)
        try settle("\(a) to bind to \(expected) on probe") { driver(of: a) == expected }
    }

    /// Resets the function; returns the method the kernel uses (its first
    /// listed one), or "unsupported" when it has none, without writing.
    public func reset(_ a: SBDF) throws(SysfsError) -> String {
        guard let methods = resetMethods(a) else { return "unsupported" }
        try write(directory(a) + "/reset", "1")
        return methods.first ?? "default"
    }

    private func settle(_ what: String, _ done: () -> Bool) throws(SysfsError) {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .milliseconds(Int(settleTimeout * 1000)))
        while !done() {
            if clock.now >= deadline { throw SysfsError(path: root, "timed out after \(settleTimeout)s waiting for \(what)") }
            usleep(1000)
        }
    }

    func write(_ path: String, _ value: String) throws(SysfsError) {
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { throw SysfsError(path: path, "cannot open for writing: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw SysfsError(path: path, "write '\(value)': \(String(cString: strerror(errno)))") }
    }

    // MARK: - File helpers (never trap)

    static func readBytes(_ path: String, max: Int = 65536) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: max)
        var total = 0
        while total < max {
            let n = buffer[total...].withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            total += n
        }
        return Array(buffer[..<total])
    }

    /// A text attribute without its trailing newline.
    static func readText(_ path: String) -> String? {
        guard let b = readBytes(path, max: 8192) else { return nil }
        var s = String(decoding: b, as: UTF8.self)
        while s.hasSuffix("\n") { s.removeLast() }
        return s
    }

    static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let target = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return target.split(separator: "/").last.map(String.init)
    }

    static func list(_ path: String) -> [String]? {
        guard let d = opendir(path) else { return nil }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }
}
