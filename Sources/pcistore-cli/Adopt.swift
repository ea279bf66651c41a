import ArgumentParser
import PCIStore

struct Adopt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record the devices xl already made assignable, without touching the bus.",
        discussion: """
            A device is adopted when pciback holds it: it becomes assignable (or assigned, when libxl records \
            an owner in /libxl/pci/DDDD-BB-SS-F/domid) with pciback as its stub, the driver libxl saved in \
            driver_path to give it back to, and libxl's name. An empty /libxl/pci entry (xl leaves one after \
            pci-assignable-remove) adopts nothing. Devices pcistore already records are not changed; \
            disagreements are reported. Run discover first to record the rest of the bus.

            Example: pcistore adopt --dry-run && pcistore adopt
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var sysfs: SysfsOptions
    @OptionGroup var dry: DryRun

    func run() throws {
        try Output.guarded {
            let r = try global.database().adopt(sysfs: sysfs.value, dryRun: dry.dryRun)
            Output.report(r, dryRun: dry.dryRun)
        }
    }
}
