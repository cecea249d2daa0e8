/* A memory bomb spread over several processes, each under RLIMIT_DATA: only the jail's
 * total resident memory (the host's watch) can stop it. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    for (int i = 0; i < 8; i++) {
        if (fork() == 0) {
            for (int n = 0; n < 8; n++) {
                char *chunk = malloc(32 << 20);
                if (chunk) memset(chunk, 1, 32 << 20);
            }
            pause();
        }
    }
    while (wait(NULL) > 0) {}
    return 0;
}
