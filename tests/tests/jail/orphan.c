/* Leaves a child behind that holds stdout open and never exits: it must be gone when the
 * step ends (the jail's pid namespace dies with its init), and the step must not hang. */
#include <sys/prctl.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (fork() == 0) {
        prctl(PR_SET_NAME, argc > 1 ? argv[1] : "kiln-orphan", 0, 0, 0);
        for (;;) pause();
    }
    return 0;
}
