/* SPDX-License-Identifier: MIT */
/*
 * Without libFuzzer, run a fuzz target over the files named on the
 * command line (the seed corpus), so the target is exercised by every
 * build's test suite.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
        int n = 0;

        for (int i = 1; i < argc; i++) {
                uint8_t buf[65536];
                FILE *f = fopen(argv[i], "rb");
                size_t len;

                if (!f) {
                        perror(argv[i]);
                        return 1;
                }
                len = fread(buf, 1, sizeof(buf), f);
                fclose(f);
                LLVMFuzzerTestOneInput(buf, len);
                n++;
        }
        if (n == 0) {
                fprintf(stderr, "no corpus files given\n");
                return 1;
        }
        printf("%d corpus inputs decoded without a failed assertion\n", n);
        return 0;
}
