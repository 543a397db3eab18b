import CPosixShims

// The full command-line tool (the `upvault` front binary replaces itself with this one for every command
// it does not answer itself). The process holds keys and secrets: no core dumps, and not ptrace-able by
// other processes of ours.
_ = upv_disable_core_dumps()
await UPVaultCommand.runAndExit()
