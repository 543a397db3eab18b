import UPVault

/// Coalesces concurrent refreshes of one grant inside a process: the first caller runs the operation,
/// later callers wait for its result. Across processes, `Vault.withEntryLock` does the same job.
actor SingleFlight {
    private var running: [String: Task<Grant, any Error>] = [:]

    func run(_ key: String, _ operation: @escaping @Sendable () async throws -> Grant) async throws -> Grant {
        if let task = running[key] { return try await task.value }
        let task = Task { try await operation() }
        running[key] = task
        defer { running[key] = nil }
        return try await task.value
    }
}
