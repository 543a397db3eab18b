import Foundation
import Testing
import UPVault
import UPVaultTesting

extension CLI {
    /// A vault with one secret, unlocked; afterwards the passphrase file is out of the environment, so
    /// every later command can only succeed through the agent.
    static func unlocked(_ arguments: [String] = []) throws -> CLI {
        var cli = CLI.withAgentSocket()
        try cli.initVault()
        #expect(try cli.run(["secret", "set", "api-key"], input: "value-1\n").status == 0)
        let unlock = try cli.run(["unlock"] + arguments)
        #expect(unlock.status == 0, "unlock: \(unlock.stderr)")
        cli.environment["UPVAULT_PASSPHRASE_FILE"] = nil
        return cli
    }

    /// A fresh CLI whose agent socket is in its own directory.
    static func withAgentSocket() -> CLI {
        var cli = CLI()
        cli.environment["UPVAULT_AGENT_SOCK"] = cli.directory + "/run/agent.sock"
        return cli
    }

    func agentPID() throws -> Int32? {
        let status = try run(["status", "--json"]).stdout
        let object = try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any]
        return (object?["agent_pid"] as? NSNumber)?.int32Value
    }

    /// Locks the agent, or kills it if it does not answer.
    func stopAgent() {
        let pid = try? agentPID()
        _ = try? run(["lock"])
        if let pid { kill(pid, SIGKILL) }
    }
}

/// `upvault unlock`, the agent, and what it refuses.
@Suite struct AgentTests {
    @Test func unlockOnceThenNoPassphraseUntilLock() throws {
        let cli = try CLI.unlocked()
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        for _ in 0..<20 {
            let get = try cli.run(["secret", "get", "api-key"])
            #expect(get.status == 0 && get.stdout == "value-1\n", "\(get.stderr)")
        }
        #expect(try cli.run(["secret", "set", "other"], input: "value-2\n").status == 0)
        #expect(try cli.run(["secret", "list"]).stdout == "api-key\nother\n")
        let status = try cli.run(["status"]).stdout
        #expect(status.contains("unlocked (agent pid"))
        #expect(try cli.run(["lock"]).status == 0)
        let after = try cli.run(["secret", "get", "api-key"])
        #expect(after.status == 75)
        #expect(try cli.run(["status"]).stdout.contains("locked (commands ask"))
    }

    /// The time-outs themselves are tested on an injected clock (UPVaultAgentTests); here, that the
    /// command line hands them to the agent it starts.
    @Test func unlockHandsItsTimeOutsToTheAgent() throws {
        let cli = try CLI.unlocked(["--ttl", "2h", "--idle", "90s"])
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        let status = try cli.run(["status", "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any] ?? [:]
        let left = json["seconds_left"] as? Int ?? -1
        #expect(json["state"] as? String == "unlocked")
        #expect((1...90).contains(left), "the idle time-out (90 s) decides what is left: \(status.stdout)")
    }

    @Test func secondUnlockIsANoOpAndExtendPushesTheTimeOut() throws {
        var cli = try CLI.unlocked(["--ttl", "1h"])
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        let pid = try cli.agentPID()
        // Within the absolute time-out, no passphrase is needed (none is available here).
        let shorter = try cli.run(["unlock", "--extend", "--ttl", "30m", "--idle", "20m", "--json"])
        #expect(shorter.status == 0, "\(shorter.stderr)")
        #expect(try cli.agentPID() == pid)
        // Past it, any process of the user would otherwise keep the vault open for ever: the passphrase.
        let longer = try cli.run(["unlock", "--extend", "--ttl", "5h", "--idle", "2h"])
        #expect(longer.status == 75, "\(longer.stderr)")
        #expect(try cli.agentPID() == pid)
        cli.usePassphrase("first passphrase")
        let again = try cli.run(["unlock"])
        #expect(again.status == 0 && again.stderr.contains("already unlocked"))
        #expect(try cli.agentPID() == pid)
        let extended = try cli.run(["unlock", "--extend", "--ttl", "5h", "--idle", "2h", "--json"])
        #expect(extended.status == 0, "\(extended.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(extended.stdout.utf8)) as? [String: Any]
        #expect((object?["seconds_left"] as? NSNumber)?.intValue ?? 0 > 3600)
        let replaced = try cli.agentPID()
        #expect(replaced != nil && replaced != pid, "a longer life is a new agent, unlocked with the passphrase")
        #expect(try cli.run(["secret", "get", "api-key"]).stdout == "value-1\n")
    }

    /// `unlock` derives the key from the header alone and the agent reads the vault, once: what the
    /// agent finds wrong comes back as if `unlock` had found it (the same message and exit code), and
    /// a tail is warned about.
    @Test func unlockReportsWhatTheAgentFindsInTheVault() throws {
        var cli = CLI.withAgentSocket()
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        try cli.initVault()
        #expect(try cli.run(["secret", "set", "api-key"], input: "value-1\n").status == 0)
        let path = cli.vaultPath
        let intact = try Data(contentsOf: URL(fileURLWithPath: path))
        // A flipped byte inside the record: the header (and so the passphrase) is fine.
        var damaged = intact
        damaged[damaged.count - 60] ^= 0x01
        try damaged.write(to: URL(fileURLWithPath: path))
        let refused = try cli.run(["unlock"])
        #expect(refused.status == 65, "\(refused.stderr)")
        #expect(refused.stderr.contains("does not authenticate"), "\(refused.stderr)")
        #expect(try cli.agentPID() == nil)
        cli.usePassphrase("not the passphrase")
        let wrong = try cli.run(["unlock"])
        #expect(wrong.status == 77, "\(wrong.stderr)")
        cli.usePassphrase("first passphrase")
        // A cut seal: served, and warned about.
        try intact.prefix(intact.count - 10).write(to: URL(fileURLWithPath: path))
        let unlocked = try cli.run(["unlock"])
        #expect(unlocked.status == 0, "\(unlocked.stderr)")
        #expect(unlocked.stderr.contains("does not end in a seal"), "\(unlocked.stderr)")
    }

    @Test func agentKilledWithSIGKILLThenUnlockAgain() throws {
        var cli = try CLI.unlocked()
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        let pid = try #require(try cli.agentPID())
        kill(pid, SIGKILL)
        #expect(ProcessImage.waitForExit(of: pid, timeout: .seconds(10)), "the agent outlived SIGKILL")
        // The socket file is still there, but nothing answers: locked, at once.
        #expect(FileManager.default.fileExists(atPath: cli.directory + "/run/agent.sock"))
        #expect(try cli.run(["secret", "get", "api-key"]).status == 75)
        cli.usePassphrase("first passphrase")
        let unlock = try cli.run(["unlock"])
        #expect(unlock.status == 0, "\(unlock.stderr)")
        cli.environment["UPVAULT_PASSPHRASE_FILE"] = nil
        #expect(try cli.run(["secret", "get", "api-key"]).stdout == "value-1\n")
        #expect(try cli.agentPID() != pid)
    }

    @Test func fiftyConcurrentClients() throws {
        let cli = try CLI.unlocked()
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        let commands = try (0..<50).map { index in
            try RunningCommand(cli: cli, index % 5 == 0 ? ["secret", "list"] : ["secret", "get", "api-key"])
        }
        let results = try commands.map { try $0.finish() }
        #expect(
            results.filter { $0.status == 0 }.count == 50, "\(results.map(\.stderr).filter { !$0.isEmpty }.prefix(3))")
        #expect(results.enumerated().allSatisfy { $0.offset % 5 == 0 || $0.element.stdout == "value-1\n" })
    }

    @Test func oversizedAndGarbageFramesCloseOnlyThatConnection() throws {
        let cli = try CLI.unlocked()
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        let socket = cli.directory + "/run/agent.sock"
        let probes: [[UInt8]] = [
            [0x7F, 0xFF, 0xFF, 0xFF],  // a 2 GiB frame announced
            [0, 0, 0, 5] + Array("hello".utf8),  // not JSON
            [0, 0, 0, 2] + Array("{}".utf8),  // JSON, not a request
            [0, 0, 0, 40],  // a frame cut short
            Array(repeating: 0x41, count: 10_000),  // noise
        ]
        for probe in probes {
            let reply = try RawSocket.exchange(path: socket, send: probe)
            #expect(reply.isEmpty, "the agent answered a bad frame: \(reply.prefix(40))")
        }
        // Everybody else is still served.
        #expect(try cli.run(["secret", "get", "api-key"]).stdout == "value-1\n")
        let good = try RawSocket.exchange(
            path: socket, send: RawSocket.frame(#"{"vault":"\#(cli.vaultPath)","request":{"status":{}}}"#))
        #expect(String(decoding: good, as: UTF8.self).contains(#"{"ok":{"status":"#))
    }

    @Test(.enabled(if: RawSocket.canSwitchToNobody, "needs root, setpriv and python3 to run a client as another user"))
    func connectionFromAnotherUserIsRefused() throws {
        let cli = try CLI.unlocked()
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        // Open the way on purpose (as a careless admin might), so that only SO_PEERCRED stands in it.
        chmod(cli.directory, 0o755)
        chmod(cli.directory + "/run", 0o755)
        chmod(cli.directory + "/run/agent.sock", 0o777)
        let client = """
            import socket, struct, sys
            s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
            body = b'{"vault":"%s","request":{"get":{"kind":1,"name":"api-key"}}}' % sys.argv[2].encode()
            try:
                s.sendall(struct.pack(">I", len(body)) + body)
                s.settimeout(5); data = s.recv(100)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            print("refused" if data == b"" else "answered: %r" % data[:60])
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = [
            "--reuid=65534", "--regid=65534", "--clear-groups", RawSocket.systemPython!, "-c", client,
            cli.directory + "/run/agent.sock", cli.vaultPath,
        ]
        process.environment = ["PATH": "/usr/bin:/bin"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(text.contains("refused"), "\(text)")
        #expect(!text.contains("value-1"))
        // Clients refuse a socket directory others can enter; put it back and the owner is served.
        let careless = try cli.run(["secret", "get", "api-key"])
        #expect(careless.status == 1 && careless.stderr.contains("refusing agent socket directory"))
        chmod(cli.directory + "/run", 0o700)
        #expect(try cli.run(["secret", "get", "api-key"]).stdout == "value-1\n")
    }

    @Test func nothingSecretInTheAgentsArgvOrEnvironment() throws {
        let cli = try CLI.unlocked()
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        let pid = try #require(try cli.agentPID())
        let argv = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))
        let environ = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))
        for blob in [argv, environ] {
            let text = String(decoding: blob, as: UTF8.self)
            #expect(!text.contains("first passphrase"))
            #expect(!text.contains("UPVAULT_PASSPHRASE_FILE"))
            #expect(!text.contains("value-1"))
        }
        #expect(String(decoding: argv, as: UTF8.self).hasPrefix(CLI.fullBinary + "\0agent\0"))
        // Not dumpable: no core file, and other processes of ours cannot ptrace it.
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        #expect(status.contains("CoreDumping:\t0"))
        let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
        #expect(limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") }?.contains(" 0 ") == true)
    }

    @Test func agentFollowsCompactionAndLocksAfterARekey() throws {
        var cli = try CLI.unlocked()
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        for index in 0..<40 { _ = try cli.run(["secret", "set", "churn"], input: "value \(index)\n") }
        // compact and rekey open the file with the passphrase themselves.
        cli.usePassphrase("first passphrase")
        #expect(try cli.run(["compact"]).status == 0)
        cli.environment["UPVAULT_PASSPHRASE_FILE"] = nil
        #expect(try cli.run(["secret", "get", "churn"]).stdout == "value 39\n")
        cli.usePassphrase("first passphrase")
        #expect(try cli.run(["rekey"]).status == 0)
        cli.environment["UPVAULT_PASSPHRASE_FILE"] = nil
        // The agent's key no longer opens the vault: it refuses once and locks itself.
        let stale = try cli.run(["secret", "get", "churn"])
        #expect(stale.status != 0)
        var locked = false
        for _ in 0..<50 where !locked {
            locked = try cli.run(["secret", "get", "churn"]).status == 75
            usleep(50_000)
        }
        #expect(locked)
    }
}

/// A client that speaks raw bytes to the agent's socket.
enum RawSocket {
    static func frame(_ json: String) -> [UInt8] {
        let body = Array(json.utf8)
        let length = UInt32(body.count).bigEndian
        return withUnsafeBytes(of: length) { Array($0) } + body
    }

    /// Sends `bytes`, half-closes, and returns everything the agent sent back before closing.
    static func exchange(path: String, send bytes: [UInt8]) throws -> [UInt8] {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let utf8 = Array(path.utf8)
            raw.copyBytes(from: utf8)
            raw[utf8.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        shutdown(fd, Int32(SHUT_WR))
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            reply += buffer.prefix(count)
        }
        return reply
    }

    /// A python3 that another user can run (not one under root's home).
    static var systemPython: String? {
        ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static var canSwitchToNobody: Bool {
        geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") && systemPython != nil
    }
}

/// `Vault.connect`: what an app embedding UPVault gets, with and without the agent.
@Suite struct VaultConnectTests {
    @Test func theSameAPIThroughTheAgentAndTheFile() throws {
        let cli = try CLI.unlocked()
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        var asked = 0
        let environment = ["UPVAULT_AGENT_SOCK": cli.directory + "/run/agent.sock", "HOME": cli.directory]
        let viaAgent = try Vault.connect(at: cli.vaultPath, environment: environment) {
            asked += 1
            return SecureBytes(copying: Array("first passphrase".utf8))
        }
        #expect(viaAgent is AgentClient && asked == 0)
        #expect(try viaAgent.secret(named: "api-key")?.utf8String() == "value-1")
        try viaAgent.setSecret(SecureBytes(copying: Array("from the app".utf8)), named: "app-secret")
        try viaAgent.write { batch in
            try batch.put(EntryKey(.secret, "batch-1"), value: SecureBytes(copying: Array("1".utf8)))
            batch.remove(EntryKey(.secret, "api-key"))
        }
        #expect(try viaAgent.secretNames() == ["app-secret", "batch-1"])
        #expect(try cli.run(["lock"]).status == 0)
        let direct = try Vault.connect(at: cli.vaultPath, environment: environment) {
            asked += 1
            return SecureBytes(copying: Array("first passphrase".utf8))
        }
        #expect(direct is Vault && asked == 1)
        #expect(
            try cli.run(["unlock"], extraEnvironment: ["UPVAULT_PASSPHRASE_FILE": cli.directory + "/passphrase"]).status
                == 0)
        // README's snippet, as written there (the process environment names the agent's socket).
        setenv("UPVAULT_AGENT_SOCK", cli.directory + "/run/agent.sock", 1)
        defer { unsetenv("UPVAULT_AGENT_SOCK") }
        let path = cli.vaultPath
        // --- README ---
        let store = try Vault.connect(at: path) { try PassphraseSource.terminal.read(prompt: "Passphrase: ") }
        let secret = try store.secret(named: "github-token")
        // --- end ---
        #expect(store is AgentClient)
        var missing = true
        if let value = secret { missing = value.isEmpty }
        #expect(missing, "this vault holds no secret named github-token")
        #expect(try direct.secret(named: "app-secret")?.utf8String() == "from the app")
        #expect(try direct.secretNames() == ["app-secret", "batch-1"])
    }
}

/// The agent keeps keys for hours: with no lockable memory it refuses to start unless allowed to.
@Suite struct AgentMemoryLockingTests {
    /// `ulimit -l 0`, and (as root, where CAP_IPC_LOCK ignores the limit) without that capability.
    static var withoutLockableMemory: [String] {
        ["/bin/sh", "-c", #"ulimit -l 0 && exec "$@""#, "sh"]
            + (getuid() == 0 ? ["/usr/bin/setpriv", "--bounding-set", "-ipc_lock", "--inh-caps", "-ipc_lock"] : [])
    }

    @Test(
        .disabled(
            if: ["ASAN_OPTIONS", "TSAN_OPTIONS"].contains { ProcessInfo.processInfo.environment[$0] != nil },
            "the sanitizers turn mlock into a no-op that succeeds (scripts/sanitize.sh sets their options)"))
    func unlockRefusesWithoutLockableMemoryUnlessAllowed() throws {
        var cli = CLI.withAgentSocket()
        defer {
            cli.stopAgent()
            cli.cleanUp()
        }
        try cli.initVault()
        let probe = try cli.run(["status"], wrapper: Self.withoutLockableMemory)
        #expect(probe.status == 0, "the wrapper itself must work: \(probe.stderr)")

        let refused = try cli.run(["unlock"], wrapper: Self.withoutLockableMemory)
        #expect(refused.status == 1)
        #expect(
            refused.stderr.contains("memory cannot be locked") && refused.stderr.contains("--allow-unlocked-memory"))
        #expect(try cli.agentPID() == nil)

        let allowed = try cli.run(["unlock", "--allow-unlocked-memory"], wrapper: Self.withoutLockableMemory)
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(allowed.stderr.contains("warning: the agent runs anyway: memory cannot be locked"))
        #expect(try cli.agentPID() != nil)
        #expect(try cli.run(["lock"]).status == 0)
        // With lockable memory (the test's own limits), no flag is needed.
        #expect(try cli.run(["unlock"]).status == 0)
    }
}
