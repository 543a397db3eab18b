import CPosixShims

// The process holds keys and secrets: no core dumps, and not ptrace-able by other processes of ours.
_ = upv_disable_core_dumps()
FastPath.run(CommandLine.arguments.dropFirst())
await UPVaultCommand.runAndExit()
