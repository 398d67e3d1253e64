/*
 * tinyasc example: PCM -> features -> invoke -> label.
 *
 *   tinyasc_example [clip.raw]
 *
 * clip.raw: mono little-endian int16 PCM at the model's sample rate (a hosted build reads it;
 * without one, or on a board without a file system, the example classifies generated noise).
 * Prints the label and the scores. On a Cortex-M board, retarget printf to your UART or use
 * semihosting; everything else is the library's own code.
 */
#include <stdio.h>
#include <stdint.h>
#include "model.h"
#include "labels.h"
/* @DEFINES@ */
#if TINYASC_EXAMPLE_FRONTEND
#include "tinyasc_frontend.h"
#define TINYASC_EXAMPLE_SAMPLES TINYASC_FE_CLIP_SAMPLES
static float fe_scratch[TINYASC_FE_SCRATCH_FLOATS];
#else
#define TINYASC_EXAMPLE_SAMPLES 1
#endif

static int16_t pcm[TINYASC_EXAMPLE_SAMPLES];
static tinyasc_output_t scores[TINYASC_OUTPUT_SIZE];

/* Read up to max samples of a raw int16 file; 0 when there is none. */
static int read_clip(const char *path, int16_t *out, int max)
{
    FILE *fp = fopen(path, "rb");
    int n;
    if (fp == NULL) return 0;
    n = (int)fread(out, sizeof(int16_t), (size_t)max, fp);
    fclose(fp);
    return n;
}

/* Deterministic noise (a linear congruential generator) when no clip is given. */
static int noise_clip(int16_t *out, int n)
{
    uint32_t s = 12345u;
    int i;
    for (i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        out[i] = (int16_t)((int32_t)(s >> 16) - 32768) / 8;
    }
    return n;
}

int main(int argc, char **argv)
{
    int n = 0, best = 0, i;
    if (argc > 1) n = read_clip(argv[1], pcm, TINYASC_EXAMPLE_SAMPLES);
    if (n == 0) n = noise_clip(pcm, TINYASC_EXAMPLE_SAMPLES);
#if TINYASC_EXAMPLE_FRONTEND
    /* features straight into the model's input tensor in the arena: no copy */
    tinyasc_frontend_quantized(pcm, n, fe_scratch, tinyasc_model_input_buffer());
#else
    /* no front end for this model: fill tinyasc_model_input_buffer() with its input yourself */
    for (i = 0; i < TINYASC_INPUT_SIZE; ++i) tinyasc_model_input_buffer()[i] = 0;
#endif
    if (tinyasc_model_invoke(tinyasc_model_input_buffer(), scores) != 0) return 1;
    for (i = 1; i < TINYASC_OUTPUT_SIZE; ++i)
        if (scores[i] > scores[best]) best = i;
    printf("label %d %s\n", best, tinyasc_labels[best]);
    for (i = 0; i < TINYASC_OUTPUT_SIZE; ++i) printf("score %s %d\n", tinyasc_labels[i], (int)scores[i]);
    return 0;
}
