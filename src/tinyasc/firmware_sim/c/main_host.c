/* Host runner for a generated model: tinyasc_host INPUT.bin OUTPUT.bin [DUMP.bin]
 * INPUT.bin holds N inputs of TINYASC_INPUT_SIZE tinyasc_input_t elements each (int8, or
 * little-endian int16 for a 16x8 model); OUTPUT.bin receives N outputs the same way.
 * Built with -DTINYASC_DUMP, every layer's output of every input is appended to DUMP.bin. */
#include <stdio.h>
#include <stdint.h>
#include "model.h"

static tinyasc_input_t in_buf[TINYASC_INPUT_SIZE];
static tinyasc_output_t out_buf[TINYASC_OUTPUT_SIZE];

#ifdef TINYASC_DUMP
static FILE *dump_fp = NULL;
void tinyasc_dump_hook(int layer, const int8_t *data, int32_t size) {
    (void)layer;
    if (dump_fp) fwrite(data, 1, (size_t)size, dump_fp);
}
#endif

int main(int argc, char **argv) {
    FILE *in, *out;
    size_t got;
    long n = 0;
    if (argc < 3) {
        fprintf(stderr, "usage: %s INPUT.bin OUTPUT.bin [DUMP.bin]\n", argv[0]);
        return 2;
    }
    in = fopen(argv[1], "rb");
    if (!in) { fprintf(stderr, "%s: cannot open\n", argv[1]); return 2; }
    out = fopen(argv[2], "wb");
    if (!out) { fprintf(stderr, "%s: cannot open\n", argv[2]); fclose(in); return 2; }
#ifdef TINYASC_DUMP
    if (argc > 3) {
        dump_fp = fopen(argv[3], "wb");
        if (!dump_fp) { fprintf(stderr, "%s: cannot open\n", argv[3]); return 2; }
    }
#endif
    while ((got = fread(in_buf, sizeof(tinyasc_input_t), TINYASC_INPUT_SIZE, in)) == TINYASC_INPUT_SIZE) {
        tinyasc_model_invoke(in_buf, out_buf);
        if (fwrite(out_buf, sizeof(tinyasc_output_t), TINYASC_OUTPUT_SIZE, out) != TINYASC_OUTPUT_SIZE) {
            fprintf(stderr, "%s: write failed\n", argv[2]);
            return 1;
        }
        ++n;
    }
    fclose(in);
    fclose(out);
#ifdef TINYASC_DUMP
    if (dump_fp) fclose(dump_fp);
#endif
    if (got != 0) {
        fprintf(stderr, "%s: size is not a multiple of %d elements\n", argv[1], TINYASC_INPUT_SIZE);
        return 2;
    }
    fprintf(stderr, "ran %ld inputs\n", n);
    return 0;
}
