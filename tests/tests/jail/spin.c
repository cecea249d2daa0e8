/* An infinite loop: the jail's CPU limit must stop it. */
int main(void) {
    volatile unsigned long n = 0;
    for (;;) n++;
}
