import Synchronization
import Testing
import UPVault

@testable import UPVaultOAuth

@Suite struct PacerTests {
    /// A clock in seconds that only `sleep` moves, and the pacer on it.
    final class Clock: Sendable {
        let now = Mutex(0.0)
        func pacer(_ rate: Double?) -> Pacer {
            Pacer(
                rate: rate, clock: { self.now.withLock { $0 } },
                sleep: { duration in
                    let (seconds, atto) = duration.components
                    self.now.withLock { $0 += Double(seconds) + Double(atto) * 1e-18 }
                })
        }
    }

    /// When each of `count` requests left, one worker after another.
    static func departures(_ pacer: Pacer, clock: Clock, count: Int) async -> [Double] {
        var times: [Double] = []
        for _ in 0..<count {
            await pacer.acquire()
            times.append(clock.now.withLock { $0 })
        }
        return times
    }

    @Test func requestsLeaveEvenlyBelowTheRate() async {
        let clock = Clock()
        let times = await Self.departures(clock.pacer(50), clock: clock, count: 200)
        // Any one-second window holds at most 50 departures, with the 5 % margin: 48.
        for (index, start) in times.enumerated() {
            #expect(times[index...].prefix { $0 - start < 1 }.count <= 48)
        }
        #expect(abs(times.last! - 199 / (50 * 0.95)) < 1e-6)
    }

    @Test func withoutARateNothingWaitsUntilA429() async {
        let clock = Clock()
        let pacer = clock.pacer(nil)
        let times = await Self.departures(pacer, clock: clock, count: 30)
        #expect(times.allSatisfy { $0 == 0 } && pacer.settledRate == nil)
        pacer.slowDown()  // 30 requests in the last second: pace at 24/s from now on
        #expect(pacer.rate == 24 && pacer.settledRate == 24 * Pacer.margin)
        pacer.slowDown()  // the same burst's other 429s lower it once
        #expect(pacer.rate == 24 && pacer.slowDownCount == 2)
        clock.now.withLock { $0 += 1 }
        pacer.slowDown()
        #expect(pacer.rate == 24 * 0.8)
    }

    @Test func slowingDownHasAFloor() {
        let clock = Clock()
        let pacer = clock.pacer(0.12)
        for _ in 0..<5 {
            pacer.slowDown()
            clock.now.withLock { $0 += 2 }
        }
        #expect(pacer.rate == Pacer.floor)
    }

    @Test func ratesParseAndPrint() throws {
        #expect(try RequestRate(parsing: "25/s").perSecond == 25)
        #expect(try RequestRate(parsing: "1500/m").perSecond == 25)
        #expect(try RequestRate(parsing: "36/h").perSecond == 0.01)
        #expect(try RequestRate(parsing: "7").description == "7/s")
        #expect(try RequestRate(parsing: "30/m").description == "30/m")
        for bad in ["0", "-1/s", "nan", "1e9", "5/d", "", "/s", "inf"] {
            #expect(throws: OAuthError.self) { try RequestRate(parsing: bad) }
        }
    }
}
