#if canImport(Glibc)
import Glibc
#endif

/// A stand-in for the kernel's PCI driver core over a sysfs tree made of plain
/// files (see `FakeSysfs` in PCITestSupport), so that tests can unbind, bind,
/// probe and reset without touching a real device.
///
/// It watches the tree with inotify and, when a control file is written and
/// closed, does what the kernel would: moves `driver` links, honours
/// `driver_override`, matches drivers by their ids, and logs each action to
/// `ROOT/.fake-kernel/log`. Drivers listed in `ROOT/.fake-kernel/refuse`
/// refuse every device (failure injection). Exits on SIGTERM, when its parent
/// dies, or when the tree is removed.
///
///     fake-pci-kernel ROOT
@main
struct FakeKernel {
    let root: String
    var watches: [Int32: String] = [:]

    static func main() {
        guard CommandLine.arguments.count == 2 else {
            _ = "usage: fake-pci-kernel ROOT\n".withCString { write(2, $0, strlen($0)) }
            exit(64)
        }
        var k = FakeKernel(root: CommandLine.arguments[1])
        k.run()
    }

    var pci: String { root + "/bus/pci" }

    func list(_ path: String) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }

    func readText(_ path: String) -> String {
        guard let f = fopen(path, "r") else { return "" }
        defer { fclose(f) }
        var out = ""
        var buf = [CChar](repeating: 0, count: 4096)
        while fgets(&buf, Int32(buf.count), f) != nil { out += String(cString: buf) }
        return out.trimmingWhitespace
    }

    func clear(_ path: String) { truncate(path, 0) }

    func log(_ line: String) {
        guard let f = fopen(root + "/.fake-kernel/log", "a") else { return }
        fputs(line + "\n", f)
        fclose(f)
    }

    func deviceDir(_ bdf: String) -> String { pci + "/devices/" + bdf }

    func currentDriver(_ bdf: String) -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink(deviceDir(bdf) + "/driver", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(cString: buf).split(separator: "/").last.map(String.init)
    }

    func refused(_ driver: String) -> Bool {
        readText(root + "/.fake-kernel/refuse").split(separator: "\n").contains { $0 == driver }
    }

    /// Ids a driver binds to by itself ("vvvv:dddd" lines, `*` for any).
    func matches(_ driver: String, _ bdf: String) -> Bool {
        let vendor = readText(deviceDir(bdf) + "/vendor").replacingPrefix("0x")
        let device = readText(deviceDir(bdf) + "/device").replacingPrefix("0x")
        return readText(pci + "/drivers/\(driver)/ids").split(separator: "\n").contains { $0 == "\(vendor):\(device)" || $0 == "*" }
    }

    func override(_ bdf: String) -> String? {
        let o = readText(deviceDir(bdf) + "/driver_override")
        return o.isEmpty || o == "(null)" ? nil : o
    }

    /// Logs first: whoever sees the link appear must find the line.
    func attach(_ bdf: String, _ driver: String) {
        log("bind \(bdf) \(driver)")
        symlink("../../devices/\(bdf)", pci + "/drivers/\(driver)/\(bdf)")
        symlink("../../../bus/pci/drivers/\(driver)", deviceDir(bdf) + "/driver")
    }

    /// The kernel's `driver_match_device` for PCI: an override names the only
    /// driver allowed; otherwise the driver's id table decides.
    func mayBind(_ bdf: String, _ driver: String) -> Bool {
        guard access(pci + "/drivers/\(driver)", F_OK) == 0, !refused(driver) else { return false }
        if let o = override(bdf) { return o == driver }
        return matches(driver, bdf)
    }

    mutating func react(_ dir: String, _ file: String) {
        let path = dir + "/" + file
        let value = readText(path)
        if dir.hasPrefix(pci + "/drivers/") && (file == "bind" || file == "unbind") {
            clear(path)
            let driver = String(dir.dropFirst((pci + "/drivers/").count))
            guard access(deviceDir(value), F_OK) == 0 else { return }
            if file == "unbind" {
                guard currentDriver(value) == driver else { return }
                log("unbind \(value) \(driver)")
                unlink(pci + "/drivers/\(driver)/\(value)")
                unlink(deviceDir(value) + "/driver")
            } else if currentDriver(value) == nil && mayBind(value, driver) {
                attach(value, driver)
            }
        } else if dir == pci && file == "drivers_probe" {
            clear(path)
            guard access(deviceDir(value), F_OK) == 0, currentDriver(value) == nil else { return }
            let candidates = override(value).map { [$0] } ?? list(pci + "/drivers").sorted()
            if let d = candidates.first(where: { mayBind(value, $0) }) { attach(value, d) }
        } else if file == "reset" && value == "1" {
            clear(path)
            let bdf = String(dir.split(separator: "/").last!)
            let method = readText(dir + "/reset_method").split(separator: " ").first.map(String.init) ?? "default"
            log("reset \(bdf) \(method)")
        }
    }

    mutating func run() {
        // Started from a test runner's thread, we inherit its blocked signals:
        // unblock, or `terminate()` from the test would never reach us.
        var none = sigset_t()
        sigemptyset(&none)
        sigprocmask(SIG_SETMASK, &none, nil)
        signal(SIGTERM) { _ in exit(0) }
        let parent = getppid()
        let fd = inotify_init1(Int32(IN_CLOEXEC))
        guard fd >= 0 else { perror("inotify_init1"); exit(1) }
        func watch(_ path: String) {
            let wd = inotify_add_watch(fd, path, UInt32(IN_CLOSE_WRITE) | UInt32(IN_DELETE_SELF))
            if wd >= 0 { watches[wd] = path }
        }
        watch(pci)
        for d in list(pci + "/drivers") { watch(pci + "/drivers/" + d) }
        for d in list(pci + "/devices") { watch(deviceDir(d)) }
        close(open(root + "/.fake-kernel/ready", O_CREAT | O_WRONLY, 0o644))

        var buffer = [UInt8](repeating: 0, count: 65536)
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            if getppid() != parent || access(pci, F_OK) != 0 { exit(0) }
            pfd.revents = 0
            if poll(&pfd, 1, 200) <= 0 { continue }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { continue }
            var offset = 0
            while offset + 16 <= n {
                let wd = buffer[offset..<offset + 4].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
                let mask = buffer[offset + 4..<offset + 8].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
                let len = Int(buffer[offset + 12..<offset + 16].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
                let nameBytes = buffer[(offset + 16)..<(offset + 16 + len)].prefix { $0 != 0 }
                offset += 16 + len
                if mask & UInt32(IN_DELETE_SELF) != 0 && watches[wd] == pci { exit(0) }
                guard let dir = watches[wd], mask & UInt32(IN_CLOSE_WRITE) != 0 else { continue }
                react(dir, String(decoding: nameBytes, as: UTF8.self))
            }
        }
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let c = s.last, c == "\n" || c == " " || c == "\t" { s.removeLast() }
        while let c = s.first, c == "\n" || c == " " || c == "\t" { s.removeFirst() }
        return String(s)
    }

    func replacingPrefix(_ p: String) -> String { hasPrefix(p) ? String(dropFirst(p.count)) : self }
}
