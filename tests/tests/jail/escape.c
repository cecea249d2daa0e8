/* A native program that tries to get out of kiln's jail. Every attempt must fail; each
 * success prints "LEAK: ..." and makes the exit code non-zero.
 * argv: HOST_SECRET_PATH HOST_MARKER_PATH HOST_PORT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

static int leaks;

static void attempt(const char *what, long result) {
    if (result >= 0) {
        printf("LEAK: %s succeeded\n", what);
        leaks++;
    } else {
        printf("held: %s: %s\n", what, strerror(errno));
    }
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: escape SECRET MARKER PORT\n");
        return 2;
    }
    const char *secret = argv[1], *marker = argv[2];
    int port = atoi(argv[3]);
    char path[4096];
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* Host files, directly and through init's /proc entries. */
    attempt("open the host secret", open(secret, O_RDONLY));
    snprintf(path, sizeof path, "/proc/1/root%s", secret);
    attempt("open the host secret via /proc/1/root", open(path, O_RDONLY));
    snprintf(path, sizeof path, "/proc/self/root%s", secret);
    attempt("open the host secret via /proc/self/root", open(path, O_RDONLY));
    attempt("read init's environment", open("/proc/1/environ", O_RDONLY));
    attempt("list init's fds", open("/proc/1/fd", O_RDONLY | O_DIRECTORY));
    for (int fd = 0; fd < 16; fd++) {
        char link[64], target[4096];
        snprintf(link, sizeof link, "/proc/1/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n >= 0) {
            target[n] = 0;
            printf("LEAK: readlink %s gave %s\n", link, target);
            leaks++;
        }
        if (open(link, O_RDONLY) >= 0) {
            printf("LEAK: opened %s\n", link);
            leaks++;
        }
    }
    attempt("open /sys", open("/sys/kernel", O_RDONLY | O_DIRECTORY));

    /* Writes outside the grants. */
    attempt("create the host marker", open(marker, O_CREAT | O_WRONLY, 0644));
    attempt("create /kiln-escape", open("/kiln-escape", O_CREAT | O_WRONLY, 0644));
    attempt("create /etc/kiln-escape", open("/etc/kiln-escape", O_CREAT | O_WRONLY, 0644));
    attempt("create /bin/kiln-escape", open("/bin/kiln-escape", O_CREAT | O_WRONLY, 0644));
    attempt("create /platform/kiln-escape", open("/platform/kiln-escape", O_CREAT | O_WRONLY, 0644));
    attempt("chmod /bin/sh", chmod("/bin/busybox", 04777));
    attempt("mknod /tmp/mem", mknod("/tmp/mem", S_IFCHR | 0600, makedev(1, 1)));

    /* Privileges. */
    attempt("mount a tmpfs", mount("tmpfs", "/tmp", "tmpfs", 0, NULL));
    attempt("remount / read-write", mount(NULL, "/", NULL, MS_REMOUNT, NULL));
    attempt("unshare a user namespace", unshare(CLONE_NEWUSER));
    attempt("unshare a mount namespace", unshare(CLONE_NEWNS));
    attempt("ptrace init", ptrace(PTRACE_ATTACH, 1, NULL, NULL));
    attempt("ptrace the parent", ptrace(PTRACE_ATTACH, getppid(), NULL, NULL));
    attempt("setuid 0", setuid(0));
    attempt("chroot", chroot("/tmp"));
    attempt("sethostname", sethostname("evil", 4));
    attempt("bpf", syscall(SYS_bpf, 0, NULL, 0));
    attempt("keyctl", syscall(SYS_keyctl, 0, 0, 0, 0, 0));
    attempt("userfaultfd", syscall(SYS_userfaultfd, 0));
    attempt("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));

    /* The host's loopback. */
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    attempt("connect to the host's 127.0.0.1", sock < 0 ? -1 : connect(sock, (struct sockaddr *)&addr, sizeof addr));

    /* Who am I. */
    struct utsname uts;
    uname(&uts);
    printf("uid=%d gid=%d euid=%d host=%s\n", getuid(), getgid(), geteuid(), uts.nodename);
    if (getuid() != 1000 || geteuid() != 1000 || getgid() != 1000) {
        printf("LEAK: not running as 1000:1000\n");
        leaks++;
    }
    printf("%d leaks\n", leaks);
    return leaks ? 1 : 0;
}
