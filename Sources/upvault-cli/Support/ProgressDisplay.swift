import Synchronization
import UPVaultOAuth

/// A progress bar on stderr when it is a terminal: count, rate, ETA, failures.
final class ProgressDisplay: Sendable {
    private let enabled: Bool
    private let state = Mutex<(last: ContinuousClock.Instant, drawn: Bool)>((ContinuousClock.now, false))

    init(enabled: Bool) { self.enabled = enabled }

    func update(_ progress: BulkRefreshProgress) {
        guard enabled else { return }
        let draw = state.withLock { state in
            guard ContinuousClock.now - state.last > .milliseconds(100) || progress.done == progress.total else {
                return false
            }
            state = (ContinuousClock.now, true)
            return true
        }
        guard draw else { return }
        let width = 30
        let filled = progress.total == 0 ? width : width * progress.done / progress.total
        let rate = progress.seconds > 0 ? Double(progress.done) / progress.seconds : 0
        let eta = rate > 0 ? Int(Double(progress.total - progress.done) / rate) : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        Terminal.message(
            "\r[\(bar)] \(progress.done)/\(progress.total)  \(Int(rate))/s  ETA \(eta)s  failures \(progress.failures) "
        )
    }

    func finish() {
        if state.withLock({ $0.drawn }) { Terminal.message("\n") }
    }
}
