import CXenCtrl
import PCIStoreSchema
#if canImport(Glibc)
import Glibc
#endif

/// The one door to Xen itself (libxenctrl); nothing else calls `xc_*`.
///
/// pcistore keeps the database and moves drivers; the hypervisor's side of
/// passthrough belongs to the toolstack — with one exception that xl makes
/// part of "assignable": quarantine. `xl pci-assignable-add` gives the device
/// to `DOMID_IO`, so it cannot DMA into dom0 while it waits, and
/// `pci-assignable-remove` takes it back before rebinding its driver. A
/// device given back without that keeps faulting in the IOMMU (seen in the
/// Xen guest of the QEMU harness), so pcistore does the same where Xen is.
public final class Hypervisor: @unchecked Sendable {
    // Unchecked: libxenctrl handles are safe to share between threads (the
    // library serialises hypercalls itself).
    private let handle: OpaquePointer

    private init(handle: OpaquePointer) { self.handle = handle }

    deinit { xc_interface_close(handle) }

    /// A handle when this is a Xen control domain (the privcmd device
    /// exists and opens), else nil: pcistore then only moves drivers.
    public static func open() -> Hypervisor? {
        guard access("/dev/xen/privcmd", F_OK) == 0 || access("/proc/xen/privcmd", F_OK) == 0 else { return nil }
        guard let h = xc_interface_open(nil, nil, 0) else { return nil }
        return Hypervisor(handle: h)
    }

    /// `DOMID_IO`, Xen's owner of quarantined devices.
    static let quarantineDomain: UInt32 = 0x7FF1

    /// Xen's `machine_sbdf`: segment, bus, device, function packed as libxl packs them.
    static func machineSBDF(_ a: SBDF) -> UInt32 {
        UInt32(a.segment) << 16 | UInt32(a.bus) << 8 | UInt32(a.device) << 3 | UInt32(a.function)
    }

    /// `xc_assign_device(DOMID_IO)`: the device is quarantined.
    func quarantine(_ a: SBDF) throws(SysfsError) {
        guard xc_assign_device(handle, Self.quarantineDomain, Self.machineSBDF(a), 0) == 0 else {
            throw SysfsError(path: "xen: assign \(a) to DomIO", String(cString: strerror(errno)))
        }
    }

    /// `xc_deassign_device(DOMID_IO)`: the device is dom0's again. A device
    /// Xen does not hold in quarantine answers ENODEV: nothing to undo.
    func endQuarantine(_ a: SBDF) throws(SysfsError) {
        guard xc_deassign_device(handle, Self.quarantineDomain, Self.machineSBDF(a)) == 0 || errno == ENODEV else {
            throw SysfsError(path: "xen: deassign \(a) from DomIO", String(cString: strerror(errno)))
        }
    }
}
