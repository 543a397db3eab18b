import Foundation
import Testing
import UPVaultTesting

@testable import UPVault
@testable import UPVaultPostgres

/// Writer processes (`upvault-test-helper`) killed with SIGKILL at moments they counted themselves, and
/// writer processes side by side, on both stores: every batch a writer acknowledged (printed after the
/// store call returned) is there, a batch in flight at the kill is there whole or not at all, and the
/// store opens and checks clean.
@Suite(.serialized) struct StoreCrashTests {
    /// The vault as the helper names it: the file's path, or the database URL (no password in it).
    static func name(of fixture: StoreFixture) -> String {
        fixture.location?.description ?? fixture.store.path
    }

    @Test(arguments: allStores)
    func killedWritersLoseNothingAcknowledgedAndLeaveNoBatchInPart(_ kind: StoreKind) throws {
        let fixture = try StoreFixture(kind)
        let directory = TemporaryDirectory(prefix: "upvault-crash")
        let passfile = directory.privateFile("pass", contents: testPassphrase + "\n")
        var random = SeededGenerator(seed: 7)
        var acknowledged: [String: String] = [:]
        var next = 0
        let batch = 5
        for round in 0..<20 {
            let child = try Child(
                Products.helper,
                ["append", Self.name(of: fixture), passfile, "r", String(next), "100000", String(batch)])
            child.waitForLines(Int.random(in: 1...8, using: &random))
            child.kill()
            let result = child.finish()
            let killed = child.process.terminationReason == .uncaughtSignal && result.status == SIGKILL
            #expect(killed, "round \(round): the writer died of the kill: \(result.status) \(result.errors)")
            guard let last = result.lines.last.flatMap({ Int($0) }) else {
                Issue.record("round \(round): no write acknowledged before the kill")
                continue
            }
            for i in next...last { acknowledged["r-\(i)"] = "value-r-\(i)" }
            next = last + 1

            let found = try contents(of: fixture.open())
            for (name, value) in acknowledged {
                #expect(found[name] == value, "round \(round): acknowledged write \(name) lost")
            }
            // Past the last acknowledged batch, only the one in flight may be there, and only whole.
            let beyond = (next..<next + 4 * batch).filter { found["r-\($0)"] != nil }
            #expect(
                beyond.isEmpty || beyond == Array(next..<next + batch), "round \(round): a batch in part: \(beyond)")
            for i in beyond { acknowledged["r-\(i)"] = "value-r-\(i)" }
            next += 4 * batch
        }
        #expect(acknowledged.count >= 20 * batch)
        let statistics = try fixture.open().verify()
        #expect(statistics.entryCounts[.secret] == acknowledged.count)
    }

    @Test(arguments: allStores)
    func writerProcessesSideBySideLoseNothing(_ kind: StoreKind) throws {
        let fixture = try StoreFixture(kind)
        let directory = TemporaryDirectory(prefix: "upvault-writers")
        let passfile = directory.privateFile("pass", contents: testPassphrase + "\n")
        let (writers, perWriter) = (4, 40)
        let children = try (0..<writers).map { w in
            try Child(
                Products.helper,
                ["append", Self.name(of: fixture), passfile, "w\(w)", "0", String(perWriter), w % 2 == 0 ? "1" : "4"])
        }
        for child in children {
            let result = child.finish()
            #expect(result.status == 0, "writer failed: \(result.errors)")
        }
        let found = try contents(of: fixture.open())
        for w in 0..<writers {
            for i in 0..<perWriter { #expect(found["w\(w)-\(i)"] == "value-w\(w)-\(i)") }
        }
        #expect(try fixture.open().verify().entryCounts[.secret] == writers * perWriter)
    }
}
