/// Where a device is in its passthrough life.
///
///     present ──assignable-add──▶ seizing ──▶ assignable ──assign──▶ assigned
///        ▲                          │            │  ▲                   │
///        └──────── rollback ────────┘            │  └──── release ──────┘
///        ▲                                       │
///        └──── assignable-remove (returning) ◀───┘
///
/// `seizing` and `returning` are written before the sysfs work starts, so a
/// command killed halfway leaves a mark the next command finishes or undoes.
public enum DeviceState: String, Sendable, Hashable, CaseIterable {
    /// Known, held by its own driver (or none); not available to guests.
    case present
    /// Being taken from its driver for a stub; unfinished if seen at rest.
    case seizing
    /// Held by a stub driver, free to assign.
    case assignable
    /// Owned by a domain.
    case assigned
    /// Being given back to its original driver; unfinished if seen at rest.
    case returning

    /// The moves the database allows; everything else is refused.
    public static let transitions: [DeviceState: Set<DeviceState>] = [
        .present: [.seizing],
        .seizing: [.assignable, .present],
        .assignable: [.assigned, .returning, .present],
        .assigned: [.assignable],
        .returning: [.present, .assignable],
    ]

    public func canMove(to next: DeviceState) -> Bool { Self.transitions[self]?.contains(next) ?? false }

    /// A state that only exists while a command runs.
    public var isTransitional: Bool { self == .seizing || self == .returning }
}
