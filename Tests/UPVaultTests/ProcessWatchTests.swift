import Foundation
import Testing
import UPVaultTesting

@testable import UPVault

/// `ProcessImage.waitForExit`: the kernel says when a process is gone (the kill tests rely on it).
@Suite struct ProcessWatchTests {
    @Test func waitsForTheProcessItWasGiven() throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/cat")
        child.standardInput = Pipe()
        try child.run()
        let pid = child.processIdentifier
        #expect(!ProcessImage.waitForExit(of: pid, timeout: .zero), "a running process reported gone")
        kill(pid, SIGKILL)
        #expect(ProcessImage.waitForExit(of: pid, timeout: .seconds(10)))
        child.waitUntilExit()
        #expect(child.terminationReason == .uncaughtSignal)
    }
}
