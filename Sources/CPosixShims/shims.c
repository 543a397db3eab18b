#define _GNU_SOURCE
#include "CPosixShims.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <termios.h>
#include <unistd.h>

int upv_disable_core_dumps(void) {
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0) return -1;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return -1;
    return 0;
}

static volatile sig_atomic_t upv_caught_signal;
static void upv_on_signal(int signo) { upv_caught_signal = signo; }

static const int upv_signals[] = {SIGALRM, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU};
#define UPV_NSIGNALS (sizeof upv_signals / sizeof upv_signals[0])

int upv_read_passphrase(const char *prompt, unsigned char *buf, size_t cap, size_t *len) {
    *len = 0;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return -1;

    struct termios saved, quiet;
    if (tcgetattr(fd, &saved) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }

    struct sigaction action, previous[UPV_NSIGNALS];
    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_handler = upv_on_signal; /* no SA_RESTART: read() returns EINTR */
    upv_caught_signal = 0;
    for (size_t i = 0; i < UPV_NSIGNALS; i++) sigaction(upv_signals[i], &action, &previous[i]);

    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    (void)tcsetattr(fd, TCSAFLUSH, &quiet);

    if (prompt != NULL) {
        ssize_t ignored = write(fd, prompt, strlen(prompt));
        (void)ignored;
    }

    int result = 0;
    size_t n = 0;
    int overflow = 0;
    for (;;) {
        unsigned char c;
        ssize_t r = read(fd, &c, 1);
        if (r == 1) {
            if (c == '\n' || c == '\r') break;
            if (n < cap) {
                buf[n++] = c;
            } else {
                overflow = 1;
            }
            c = 0;
            continue;
        }
        if (r == 0) break; /* EOF (Ctrl-D) ends the line */
        if (errno == EINTR && upv_caught_signal == 0) continue;
        result = -1;
        break;
    }
    int saved_errno = errno;

    {
        ssize_t ignored = write(fd, "\n", 1);
        (void)ignored;
    }
    (void)tcsetattr(fd, TCSAFLUSH, &saved);
    for (size_t i = 0; i < UPV_NSIGNALS; i++) sigaction(upv_signals[i], &previous[i], NULL);
    close(fd);

    if (upv_caught_signal != 0) {
        explicit_bzero(buf, cap);
        kill(getpid(), upv_caught_signal);
        errno = EINTR;
        return -1;
    }
    if (result != 0) {
        explicit_bzero(buf, cap);
        errno = saved_errno;
        return -1;
    }
    if (overflow) {
        explicit_bzero(buf, cap);
        return -2;
    }
    *len = n;
    return 0;
}

#include <sys/socket.h>

int upv_peer_credentials(int fd, unsigned int *uid, int *pid) {
    struct ucred credentials;
    socklen_t length = sizeof(credentials);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -1;
    if (length != sizeof(credentials)) {
        errno = EINVAL;
        return -1;
    }
    *uid = (unsigned int)credentials.uid;
    *pid = (int)credentials.pid;
    return 0;
}

#include <sys/mman.h>

int upv_memfd(const char *name) {
    /* No MFD_CLOEXEC: the descriptor is meant to survive exec into the child. */
    return memfd_create(name, MFD_ALLOW_SEALING);
}

int upv_seal(int fd) {
    return fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
}

#include <spawn.h>

int upv_spawn_close_from(void *actions, int lowest) {
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, lowest);
}

#include <sys/syscall.h>

int upv_pidfd_open(int pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}
