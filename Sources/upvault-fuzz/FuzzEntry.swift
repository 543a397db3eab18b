import Foundation

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// SwiftPM names an executable's entry point after its module; it hands over to libFuzzer's driver.
@_cdecl("upvault_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzOne)
}

/// libFuzzer's entry point; the target comes from `UPVAULT_FUZZ_TARGET`.
nonisolated(unsafe) var selected: (@Sendable ([UInt8]) -> Void)? = nil

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if selected == nil {
        let name = ProcessInfo.processInfo.environment["UPVAULT_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTargets.all[name] else {
            FileHandle.standardError.write(
                Data("UPVAULT_FUZZ_TARGET must be one of \(FuzzTargets.all.keys.sorted())\n".utf8))
            exit(2)
        }
        selected = target
    }
    selected!(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}
#else
/// `upvault-fuzz TARGET FILE...`: each file through the target once.
@main
struct Replay {
    static func main() {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2, let target = FuzzTargets.all[arguments[1]] else {
            print(
                "usage: upvault-fuzz TARGET FILE...; targets: \(FuzzTargets.all.keys.sorted().joined(separator: " "))")
            exit(2)
        }
        for path in arguments.dropFirst(2) {
            target(Array(FileManager.default.contents(atPath: path) ?? Data()))
        }
        print("replayed \(arguments.count - 2) inputs through \(arguments[1])")
    }
}
#endif
