// Drives a vault from a child process for the crash and concurrency tests (Tests/UPVaultTests, and the
// store conformance suite in Tests/UPVaultStoreTests). Not a product. VAULT is a file or a PostgreSQL URL
// (`StoreLocation`). Every acknowledged operation prints one line on stdout, written only after the
// library call returned (after fdatasync, or after the database committed).
//
//   upvault-test-helper append VAULT PASSFILE PREFIX START COUNT [BATCH]
//       puts secret PREFIX-i = "value-PREFIX-i" for i in START..<START+COUNT, BATCH per commit; prints
//       the last i of each batch
//   upvault-test-helper churn VAULT PASSFILE PREFIX COUNT
//       overwrites PREFIX-(i % 8) with "value-PREFIX-i" and compacts every 4th put; prints i
import UPVault
import UPVaultPostgres

#if canImport(Glibc)
import Glibc
#endif

func say(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(1, buffer.baseAddress! + offset, buffer.count - offset)
            if written <= 0 { exit(3) }
            offset += written
        }
    }
}

func fail(_ message: String) -> Never {
    var text = "upvault-test-helper: \(message)\n"
    text.withUTF8 { _ = write(2, $0.baseAddress!, $0.count) }
    exit(2)
}

let arguments = CommandLine.arguments
guard arguments.count >= 5 else { fail("usage: see the comment at the top of main.swift") }
let testLimits = KDFLimits(opsLimit: 1...10, memLimit: 8192...(1 << 30))

do {
    let environment = Vault.processEnvironment()
    let vault = try StoreLocation(arguments[2], environment: environment).open(
        environment: environment, limits: testLimits
    ) { try PassphraseSource.file(arguments[3]).read(prompt: "") }
    let prefix = arguments[4]
    switch arguments[1] {
    case "append":
        guard arguments.count >= 7, let start = Int(arguments[5]), let count = Int(arguments[6]) else {
            fail("append needs START COUNT")
        }
        let batch = arguments.count > 7 ? Int(arguments[7]) ?? 1 : 1
        var i = start
        while i < start + count {
            let end = min(i + batch, start + count)
            try vault.write { transaction in
                for j in i..<end {
                    try transaction.put(
                        EntryKey(.secret, "\(prefix)-\(j)"),
                        value: SecureBytes(copying: Array("value-\(prefix)-\(j)".utf8)))
                }
            }
            say(String(end - 1))
            i = end
        }
    case "churn":
        guard let count = Int(arguments[5]) else { fail("churn needs COUNT") }
        for i in 0..<count {
            try vault.setSecret(SecureBytes(copying: Array("value-\(prefix)-\(i)".utf8)), named: "\(prefix)-\(i % 8)")
            if i % 4 == 3 { try vault.compact() }
            say(String(i))
        }
    default:
        fail("unknown command \(arguments[1])")
    }
} catch {
    fail("\(error)")
}
