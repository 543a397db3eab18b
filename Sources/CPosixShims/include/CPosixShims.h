#ifndef UPVAULT_CPOSIXSHIMS_H
#define UPVAULT_CPOSIXSHIMS_H

#include <stddef.h>

/// Makes the process non-dumpable (prctl PR_SET_DUMPABLE 0) and sets RLIMIT_CORE to 0.
/// Returns 0, or -1 with errno set.
int upv_disable_core_dumps(void);

/// Reads one line from the controlling terminal with echo off, in the manner of readpassphrase(3).
/// The prompt is written to the terminal, never to stdout. The line (without its newline) is stored
/// in buf; *len receives its length. Signals that arrive while echo is off restore the terminal and
/// are re-raised. Returns 0; -1 with errno set (ENXIO or ENOTTY: no terminal); -2 when the line does
/// not fit in cap bytes (the rest of the line is consumed and discarded, buf is wiped).
int upv_read_passphrase(const char *prompt, unsigned char *buf, size_t cap, size_t *len);

/// The uid and pid of the process at the other end of a connected Unix-domain socket (SO_PEERCRED,
/// whose struct ucred Glibc shows only under _GNU_SOURCE). Returns 0, or -1 with errno set.
int upv_peer_credentials(int fd, unsigned int *uid, int *pid);

/// An anonymous in-memory file (memfd_create with sealing allowed, without close-on-exec): a path
/// under /dev/fd that exists only for this process and the program it executes.
int upv_memfd(const char *name);

/// Seals a memfd against any further change of contents or size.
int upv_seal(int fd);

/// Adds "close every descriptor from `lowest` up" to a posix_spawn_file_actions_t (glibc 2.34+), so a
/// spawned daemon inherits nothing it was not given on purpose.
int upv_spawn_close_from(void *actions, int lowest);

/// A descriptor that becomes readable when process `pid` exits (pidfd_open, Linux 5.3+), or -1 with
/// errno set (ESRCH: no such process).
int upv_pidfd_open(int pid);

#endif
