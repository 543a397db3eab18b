import Foundation
import Synchronization
import Testing
import UPVaultTesting

@testable import UPVault
@testable import UPVaultAgent
@testable import UPVaultOAuth

/// Runs blocking work (a semaphore wait, a handler call that waits for the OAuth flows) on a thread of
/// its own: blocking the test's cooperative thread could starve the tasks it waits for.
func offThePool<R: Sendable>(_ body: @escaping @Sendable () -> R) async -> R {
    await withCheckedContinuation { continuation in
        DetachedThread.start { continuation.resume(returning: body()) }
    }
}

/// An `AgentServer` serving on a thread of its own, from `start` until it stops by itself.
struct ServingAgent {
    private let finished = DispatchSemaphore(value: 0)

    /// Starts `server` and returns once it listens (nil if it did not within 30 s).
    static func start(_ server: AgentServer) async -> ServingAgent? {
        let serving = ServingAgent()
        let ready = DispatchSemaphore(value: 0)
        let finished = serving.finished
        DetachedThread.start {
            try? server.run { ready.signal() }
            finished.signal()
        }
        return await offThePool { ready.wait(timeout: .now() + 30) } == .success ? serving : nil
    }

    /// Whether the server stopped (within 30 s): after `lock`, a time-out or a signal.
    func stopped() async -> Bool {
        let finished = finished
        return await offThePool { finished.wait(timeout: .now() + 30) } == .success
    }
}

/// Unix seconds that only move when the test says so.
final class ManualClock: Sendable {
    private let seconds = Mutex<Int64>(1_700_000_000)
    var now: Int64 { seconds.withLock { $0 } }
    func advance(_ delta: Int64) { seconds.withLock { $0 += delta } }
}

/// A vault at the cheapest Argon2id cost and a handler on it, with the clock in the test's hands.
final class HandlerFixture: Sendable {
    let fixture: VaultFixture
    var directory: String { fixture.directory.path }
    var vault: Vault { fixture.vault }
    let clock = ManualClock()
    let handler: AgentRequestHandler
    let oauth: OAuthClient

    init(ttl: Int64 = 3600, idle: Int64 = 600) throws {
        fixture = try VaultFixture(prefix: "upvault-agent")
        oauth = OAuthClient(vault: fixture.vault)
        let clock = clock
        handler = AgentRequestHandler(
            vault: fixture.vault, oauth: oauth, ttl: .seconds(ttl), idle: .seconds(idle), now: { clock.now })
    }

    func cleanUp() async {
        await oauth.shutdown()
    }

    func frame(_ json: String) -> [UInt8] { Array(json.utf8) }

    func reply(_ json: String) -> String? {
        handler.answer(frame(json)).map { String(decoding: $0, as: UTF8.self) }
    }
}

@Suite struct AgentRequestHandlerTests {
    @Test func idleTimeOutRunsFromTheLastRequest() async throws {
        let fixture = try HandlerFixture(ttl: 3600, idle: 60)
        #expect(fixture.handler.expiry() == nil)
        fixture.clock.advance(59)
        #expect(fixture.handler.expiry() == nil)
        _ = fixture.handler.handle(.names(kind: EntryKind.secret.rawValue, after: nil), vault: fixture.vault.path)
        fixture.clock.advance(59)
        #expect(fixture.handler.expiry() == nil, "a request restarts the idle time-out")
        fixture.clock.advance(2)
        #expect(fixture.handler.expiry() == "idle")
        await fixture.cleanUp()
    }

    @Test func statusDoesNotKeepTheAgentAwake() async throws {
        let fixture = try HandlerFixture(ttl: 3600, idle: 60)
        fixture.clock.advance(50)
        _ = fixture.handler.handle(.status, vault: fixture.vault.path)
        fixture.clock.advance(11)
        #expect(fixture.handler.expiry() == "idle")
        await fixture.cleanUp()
    }

    @Test func absoluteTimeOutLocksEvenWhenBusy() async throws {
        let fixture = try HandlerFixture(ttl: 100, idle: 60)
        for _ in 0..<9 {
            fixture.clock.advance(10)
            _ = fixture.handler.handle(.names(kind: EntryKind.secret.rawValue, after: nil), vault: fixture.vault.path)
            #expect(fixture.handler.expiry() == nil)
        }
        fixture.clock.advance(10)
        #expect(fixture.handler.expiry() == "ttl")
        await fixture.cleanUp()
    }

    @Test func hugeTimeOutsSaturateInsteadOfTrapping() async throws {
        let fixture = try HandlerFixture()
        let reply = fixture.handler.handle(.extend(ttl: nil, idle: Int64.max), vault: fixture.vault.path)
        guard case .ok(.status(let status)) = reply else {
            Issue.record("extend did not answer with a status: \(reply)")
            return
        }
        #expect(status.idleExpiresAt == Int64.max)
        #expect(fixture.handler.expiry() == nil)
        fixture.clock.advance(3600)
        #expect(fixture.handler.expiry() == "ttl", "the absolute time-out still holds")
        await fixture.cleanUp()
    }

    /// Any process of the user may shorten the absolute time-out; none may push it out (that takes the
    /// passphrase, and a new agent: `AgentService.unlock`).
    @Test func theAbsoluteTimeOutOnlyShortens() async throws {
        let fixture = try HandlerFixture(ttl: 3600, idle: 600)
        for ttl in [Int64.max, 3601, 7200] {
            guard
                case .error(let failure) = fixture.handler.handle(
                    .extend(ttl: ttl, idle: nil), vault: fixture.vault.path)
            else {
                Issue.record("ttl \(ttl) pushed the absolute time-out out")
                continue
            }
            #expect(failure.category == .usage && failure.message.contains("passphrase"))
        }
        guard
            case .ok(.status(let status)) = fixture.handler.handle(
                .extend(ttl: 60, idle: nil), vault: fixture.vault.path)
        else {
            Issue.record("shortening was refused")
            return
        }
        #expect(status.expiresAt == fixture.clock.now + 60)
        await fixture.cleanUp()
    }

    @Test func framesDecodeOnceIntoTypedRequests() async throws {
        let fixture = try HandlerFixture()
        try fixture.vault.setSecret(SecureBytes(copying: Array("value-1".utf8)), named: "api-key")
        let path = fixture.handler.vaultPath
        let get = fixture.reply(#"{"vault":"\#(path)","request":{"get":{"kind":1,"name":"api-key"}}}"#)
        #expect(get == #"{"ok":{"value":{"base64":"dmFsdWUtMQ=="}}}"#)
        let missing = fixture.reply(#"{"vault":"\#(path)","request":{"get":{"kind":1,"name":"nothing"}}}"#)
        #expect(missing == #"{"ok":{"value":{}}}"#)
        #expect(fixture.reply("{}") == nil)
        #expect(fixture.reply(#"{"vault":"\#(path)"}"#) == nil)
        #expect(fixture.reply(#"{"vault":"\#(path)","request":{"status":{}},"oauth":{"token":{}}}"#) == nil)
        #expect(fixture.reply(#"{"vault":"\#(path)","request":{"launch":{}}}"#) == nil)
        await fixture.cleanUp()
    }

    @Test func anotherVaultIsRefusedWithItsPath() async throws {
        let fixture = try HandlerFixture()
        let reply = fixture.handler.handle(.status, vault: fixture.directory + "/other.upv")
        guard case .error(let failure) = reply else {
            Issue.record("answered for another vault")
            return
        }
        #expect(failure.otherVault == fixture.handler.vaultPath)
        await fixture.cleanUp()
    }

    @Test func failuresCrossAsCategories() async throws {
        let fixture = try HandlerFixture()
        let handler = fixture.handler
        let path = fixture.vault.path
        let token = await offThePool {
            handler.handle(.token(app: "nope", user: "u", minValid: 300, force: false), vault: path)
        }
        guard case .error(let failure) = token else {
            Issue.record("a token for a missing app")
            return
        }
        #expect(failure.category == .failure)
        #expect(failure.message.contains("nope"))
        let kind = fixture.handler.handle(.names(kind: 99, after: nil), vault: fixture.vault.path)
        guard case .error(let bad) = kind else {
            Issue.record("an unknown kind was accepted")
            return
        }
        #expect(bad.category == .usage)
        await fixture.cleanUp()
    }

    /// An entry lock the agent holds for a client (how a database vault's clients lock entries): one
    /// holder at a time, let go on `release_lock` or when the client's connection ends (a client that
    /// died), and the idle time-out waits while one is held.
    @Test func heldEntryLocksBelongToTheirConnection() async throws {
        let fixture = try HandlerFixture(ttl: 3600, idle: 60)
        let (handler, path) = (fixture.handler, fixture.vault.path)
        func hold(_ connection: AgentConnection?, _ name: String = "up/alice") async -> Bool? {
            let reply = await offThePool {
                handler.handle(
                    .holdLock(kind: EntryKind.grant.rawValue, name: name), vault: path, connection: connection)
            }
            if case .ok(.found(let held)) = reply { return held }
            if case .error(let failure) = reply { #expect(failure.category == .usage, "\(failure)") }
            return nil
        }
        let (first, second, third) = (AgentConnection(), AgentConnection(), AgentConnection())
        #expect(await hold(first) == true)
        #expect(first.holdsLock)
        #expect(await hold(second) == false, "a second holder of one entry")
        #expect(await hold(second, "up/bob") == true, "another entry is free")
        #expect(await hold(first, "up/carol") == nil, "one lock per connection")
        #expect(await hold(nil) == nil, "a lock needs a connection to belong to")
        fixture.clock.advance(61)
        #expect(handler.expiry() == nil, "the idle time-out waits for the holders")

        guard case .ok(.done) = handler.handle(.releaseLock, vault: path, connection: first) else {
            Issue.record("release_lock failed")
            return
        }
        #expect(!first.holdsLock)
        #expect(await hold(third) == true, "released: the next holder gets it")
        await offThePool { handler.closed(third) }
        #expect(await hold(first) == true, "a closed connection's lock is let go")
        await offThePool {
            handler.closed(first)
            handler.closed(second)
        }
        fixture.clock.advance(61)
        #expect(handler.expiry() == "idle")
        await fixture.cleanUp()
    }

    @Test func lockWipesAndLaterRequestsAreRefusedAsLocked() async throws {
        let fixture = try HandlerFixture()
        let hooked = Atomic<Bool>(false)
        fixture.handler.onLock { hooked.store(true, ordering: .relaxed) }
        guard case .ok(.done) = fixture.handler.handle(.lock, vault: fixture.vault.path) else {
            Issue.record("lock failed")
            return
        }
        let ran = hooked.load(ordering: .relaxed)
        #expect(ran)
        #expect(fixture.handler.isStopping && fixture.handler.expiry() == "locked")
        guard case .error(let failure) = fixture.handler.handle(.names(kind: 1, after: nil), vault: fixture.vault.path)
        else {
            Issue.record("served after lock")
            return
        }
        #expect(failure.category == .locked)
        await fixture.cleanUp()
    }

    /// The server in-process: it serves a client on its socket and, when the injected clock passes the
    /// idle time-out, stops, removes its socket and wipes the keys; no sleep, no wall clock.
    @Test func serverStopsWhenTheClockPassesTheIdleTimeOut() async throws {
        let fixture = try HandlerFixture(ttl: 3600, idle: 60)
        try fixture.vault.setSecret(SecureBytes(copying: Array("value-1".utf8)), named: "api-key")
        let socket = fixture.directory + "/run/agent.sock"
        let server = AgentServer(handler: fixture.handler, socketPath: socket)
        let serving = try #require(await ServingAgent.start(server))
        let environment = ["UPVAULT_AGENT_SOCK": socket]
        let client = try #require(try AgentClient.connect(vaultPath: fixture.vault.path, environment: environment))
        #expect(try client.secret(named: "api-key")?.utf8String() == "value-1")
        fixture.clock.advance(61)
        #expect(await serving.stopped(), "the server did not stop at its idle time-out")
        #expect(!FileManager.default.fileExists(atPath: socket))
        #expect(try AgentClient.connect(vaultPath: fixture.vault.path, environment: environment) == nil)
        await fixture.cleanUp()
    }

    /// Over the connection limit a client is told "busy" (its own exit code), not dropped silently; a
    /// frame that trickles is cut off at its deadline, and announcing one allocates nothing up front.
    @Test func busyAnswersAndTricklingFrames() async throws {
        let fixture = try HandlerFixture()
        let socket = fixture.directory + "/run/agent.sock"
        let server = AgentServer(
            handler: fixture.handler, socketPath: socket, maximumConnections: 2, frameDeadline: .seconds(2))
        let serving = try #require(await ServingAgent.start(server))
        let environment = ["UPVAULT_AGENT_SOCK": socket]
        let first = try #require(try AgentClient.connect(vaultPath: fixture.vault.path, environment: environment))
        // A second connection, silent for now (its idle wait is 30 s), fills the agent: a third is
        // answered busy.
        let trickler = try #require(try AgentSocket.connect(socket))
        #expect {
            _ = try AgentClient.connect(vaultPath: fixture.vault.path, environment: environment)
        } throws: { error in
            guard case AgentError.refused(_, .busy) = error else { return false }
            return true
        }
        // Then the second announces a 2 MiB frame and sends 3 bytes of it.
        var header: [UInt8] = [0, 0x20, 0, 0, 0x7B, 0x22, 0x76]
        _ = send(trickler, &header, header.count, Int32(MSG_NOSIGNAL))
        // The trickling connection is closed once its frame's deadline passes (recv sees the end).
        AgentSocket.setTimeouts(trickler, seconds: 30)
        var byte: UInt8 = 0
        #expect(recv(trickler, &byte, 1, 0) == 0, "the agent kept a connection whose frame never came")
        close(trickler)
        #expect(try first.status().pid == getpid())
        try first.lock()
        #expect(await serving.stopped())
        await fixture.cleanUp()
    }

    /// Names travel in pages that fit a frame: thousands of long names (over 2 MiB of JSON) list whole.
    @Test func namesLongerThanAFrameArePaged() async throws {
        let fixture = try HandlerFixture()
        let names = (0..<20_000).map { String(format: "%05d-", $0) + String(repeating: "n", count: 122) }
        try fixture.vault.write { transaction in
            for name in names { try transaction.put(EntryKey(.secret, name), value: SecureBytes(copying: [1])) }
        }
        #expect(names.reduce(0) { $0 + $1.utf8.count + 3 } > 2 << 20)
        let socket = fixture.directory + "/run/agent.sock"
        let server = AgentServer(handler: fixture.handler, socketPath: socket)
        let serving = try #require(await ServingAgent.start(server))
        let client = try #require(
            try AgentClient.connect(vaultPath: fixture.vault.path, environment: ["UPVAULT_AGENT_SOCK": socket]))
        #expect(try client.names(of: .secret) == names)
        #expect(try client.names(of: .grant).isEmpty)
        try client.lock()
        #expect(await serving.stopped())
        await fixture.cleanUp()
    }

    @Test func pagesStartAfterTheGivenNameAndAlwaysMoveForward() {
        let sorted = ["a", "b", "c", "d", "e"]
        #expect(AgentRequestHandler.page(of: sorted, after: nil, budget: 18) == .names(["a", "b"], more: true))
        #expect(AgentRequestHandler.page(of: sorted, after: "b", budget: 18) == .names(["c", "d"], more: true))
        #expect(AgentRequestHandler.page(of: sorted, after: "bb", budget: 18) == .names(["c", "d"], more: true))
        #expect(AgentRequestHandler.page(of: sorted, after: "d", budget: 100) == .names(["e"], more: false))
        #expect(AgentRequestHandler.page(of: sorted, after: "z", budget: 100) == .names([], more: false))
        // One name larger than the budget still makes progress.
        #expect(AgentRequestHandler.page(of: ["long"], after: nil, budget: 1) == .names(["long"], more: false))
    }
}
