/* A fork bomb: the jail's process limit must stop it. */
#include <unistd.h>
int main(void) {
    for (;;) fork();
}
