import Synchronization

/// Paces requests across all of a run's workers: a token bucket of depth one, so requests leave evenly
/// spaced at no more than the rate. It paces at 95 % of the rate it is given, so that the jitter between
/// leaving here and arriving at the provider does not put one more request into a provider's second.
///
/// Without a rate it does not wait. On 429, `slowDown` lowers the rate by a fifth (or, without one,
/// starts pacing at four fifths of what was sent in the last second), at most once a second (the 429s
/// of one burst count once): the rate the run settles at is `settledRate`.
final class Pacer: Sendable {
    private struct State {
        /// Requests per second, or nil: no pacing.
        var rate: Double?
        /// When the next request may leave (seconds on `clock`).
        var nextSlot: Double = 0
        /// When recent requests left, for the first `slowDown` without a rate.
        var recent: [Double] = []
        var slowDowns = 0
        /// When the rate was last lowered: the other workers' 429s from the same burst lower it once.
        var lastSlowDown = -Double.infinity
    }

    private let state: Mutex<State>
    private let clock: @Sendable () -> Double
    private let sleep: @Sendable (Duration) async throws -> Void
    static let margin = 0.95
    /// The lowest a slow-down goes: one request every ten seconds.
    static let floor = 0.1

    /// - Parameters:
    ///   - clock: seconds on a monotonic clock; `sleep` waits on the same clock (tests pass their own).
    init(
        rate: Double?, clock: @escaping @Sendable () -> Double = Pacer.monotonicSeconds,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        state = Mutex(State(rate: rate))
        self.clock = clock
        self.sleep = sleep
    }

    /// Waits for this request's slot.
    func acquire() async {
        let now = clock()
        let wait: Double = state.withLock { state in
            guard let rate = state.rate else {
                state.recent.append(now)
                if state.recent.count > 4096 { state.recent.removeFirst(2048) }
                return 0
            }
            let slot = max(now, state.nextSlot)
            state.nextSlot = slot + 1 / (rate * Self.margin)
            return slot - now
        }
        if wait > 0 { try? await sleep(.nanoseconds(Int64(wait * 1e9))) }
    }

    /// The provider answered 429: send less from now on.
    func slowDown() {
        let now = clock()
        state.withLock { state in
            state.slowDowns += 1
            guard now - state.lastSlowDown >= 1 else { return }
            state.lastSlowDown = now
            if let rate = state.rate {
                state.rate = max(Self.floor, rate * 0.8)
            } else {
                let lastSecond = state.recent.reversed().prefix { now - $0 < 1 }.count
                state.rate = max(Self.floor, Double(max(1, lastSecond)) * 0.8)
                state.recent = []
            }
            state.nextSlot = max(state.nextSlot, now)
        }
    }

    /// The rate now (nil when unpaced).
    var rate: Double? { state.withLock { $0.rate } }

    /// How many times the provider asked to slow down.
    var slowDownCount: Int { state.withLock { $0.slowDowns } }

    /// The rate requests left at after the provider asked to slow down (the margin applied); nil when it
    /// never did.
    var settledRate: Double? {
        state.withLock { state in state.slowDowns == 0 ? nil : state.rate.map { $0 * Self.margin } }
    }

    static func monotonicSeconds() -> Double {
        let elapsed = reference.duration(to: ContinuousClock.now)
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }
    private static let reference = ContinuousClock.now
}
