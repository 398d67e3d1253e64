/*
 * tinyasc example: PCM -> features -> invoke -> label.
 *
 *   tinyasc_example [clip.raw]
 *   tinyasc_example --listen [stream.raw]
 *
 * clip.raw: mono little-endian int16 PCM at the model's sample rate (a hosted build reads it;
 * without one, or on a board without a file system, the example classifies generated noise).
 * Prints the label and the scores. With --listen (a library with a front end) the file is a
 * continuous stream of any length, pushed in 512-sample chunks through tinyasc_stream_push;
 * every second of audio, and at the stream's end, the last clip length is classified
 * (tinyasc_stream_classify) and its label printed; the scores printed are the last window's.
 * On a Cortex-M board, retarget printf to your UART or use semihosting; everything else is the
 * library's own code.
 */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include "model.h"
#include "labels.h"
/* @DEFINES@ */
#if TINYASC_EXAMPLE_FRONTEND
#include "tinyasc_frontend.h"
#include "tinyasc_listen.h"
static float fe_scratch[TINYASC_FE_SCRATCH_FLOATS];
#if !TINYASC_FE_PAD_REFLECT
/* Streaming: the clip arrives in chunks, as a microphone's DMA half-buffers would deliver it;
 * only one chunk of PCM is ever held (a 10-s clip's PCM would be 320 KB). */
#define TINYASC_EXAMPLE_STREAM 1
#define TINYASC_EXAMPLE_SAMPLES 512
static tinyasc_frontend_stream fe_stream;
#else
#define TINYASC_EXAMPLE_STREAM 0
#define TINYASC_EXAMPLE_SAMPLES TINYASC_FE_CLIP_SAMPLES
#endif
#else
#define TINYASC_EXAMPLE_STREAM 0
#endif

static tinyasc_output_t scores[TINYASC_OUTPUT_SIZE];

#if TINYASC_EXAMPLE_FRONTEND
static int16_t pcm[TINYASC_EXAMPLE_SAMPLES];

/* Read up to max samples of a raw int16 file (from where the last call stopped); 0 at its end. */
static int read_clip(FILE *fp, int16_t *out, int max)
{
    return fp == NULL ? 0 : (int)fread(out, sizeof(int16_t), (size_t)max, fp);
}

/* Deterministic noise (a linear congruential generator) when no clip is given. */
static uint32_t noise_state = 12345u;
static int noise_clip(int16_t *out, int n)
{
    int i;
    for (i = 0; i < n; ++i) {
        noise_state = noise_state * 1664525u + 1013904223u;
        out[i] = (int16_t)((int32_t)(noise_state >> 16) - 32768) / 8;
    }
    return n;
}
#endif

#if TINYASC_EXAMPLE_FRONTEND
/* Continuous listening: a label every second of audio and at the end; returns the last label. */
static int listen_stream(FILE *fp)
{
    static int16_t chunk[512];
    long total = 0, last = 0;
    int n, label = -1;
    const long noise_samples = 3L * TINYASC_FE_CLIP_SAMPLES;
    tinyasc_stream_reset();
    for (;;) {
        n = fp != NULL ? read_clip(fp, chunk, 512) : (total < noise_samples ? noise_clip(chunk, 512) : 0);
        if (n == 0) break;
        if (tinyasc_stream_push(chunk, n) == TINYASC_FE_N_FRAMES && total + n - last >= TINYASC_FE_SAMPLE_RATE) {
            label = tinyasc_stream_classify(scores);
            last = total + n;
            printf("listen %ld label %d %s\n", last, label, tinyasc_labels[label]);
        }
        total += n;
    }
    if (last != total && (label = tinyasc_stream_classify(scores)) >= 0)
        printf("listen %ld label %d %s\n", total, label, tinyasc_labels[label]);
    return label;
}
#endif

int main(int argc, char **argv)
{
    const int listening = argc > 1 && strcmp(argv[1], "--listen") == 0;
    const char *path = argc > 1 + listening ? argv[1 + listening] : NULL;
    FILE *fp = path != NULL ? fopen(path, "rb") : NULL;
    int n = 0, best = 0, i, classified = 0;
    if (path != NULL && fp == NULL) {
        fprintf(stderr, "%s: cannot open\n", path);
        return 2;
    }
    if (listening) {
#if TINYASC_EXAMPLE_FRONTEND
        best = listen_stream(fp);
        if (fp != NULL) fclose(fp);
        if (best < 0) {
            fprintf(stderr, "listen: less than one clip length of audio (%d samples)\n", TINYASC_FE_CLIP_SAMPLES);
            return 2;
        }
        for (i = 0; i < TINYASC_OUTPUT_SIZE; ++i) printf("score %s %d\n", tinyasc_labels[i], (int)scores[i]);
        return 0;
#else
        fprintf(stderr, "--listen needs a library with a front end\n");
        return 2;
#endif
    }
#if TINYASC_EXAMPLE_STREAM
    /* features straight into the model's input buffer, frame by frame as the samples arrive; a
     * streamed model (asc-firmware --ram-budget) also runs its trunk on each frame as it is final,
     * unless the front end normalizes the clip at its end (the input ResNorm) */
#if defined(TINYASC_STREAMED) && !TINYASC_FE_INPUT_RESNORM
#define TINYASC_EXAMPLE_ADVANCE 1
#else
#define TINYASC_EXAMPLE_ADVANCE 0
#endif
    int total = 0, frames;
    tinyasc_frontend_stream_init(&fe_stream);
#if TINYASC_EXAMPLE_ADVANCE
    tinyasc_model_stream_begin();
#endif
    while (total < TINYASC_FE_CLIP_SAMPLES) {
        n = fp != NULL ? read_clip(fp, pcm, TINYASC_EXAMPLE_SAMPLES) : noise_clip(pcm, TINYASC_EXAMPLE_SAMPLES);
        if (n == 0) break;
        frames = tinyasc_frontend_stream_push(&fe_stream, pcm, n, fe_scratch, tinyasc_model_input_buffer());
#if TINYASC_EXAMPLE_ADVANCE
        tinyasc_model_stream_advance(frames);
#else
        (void)frames;
#endif
        total += n;
    }
    tinyasc_frontend_stream_finish(&fe_stream, fe_scratch, tinyasc_model_input_buffer());
#if TINYASC_EXAMPLE_ADVANCE
    if (tinyasc_model_stream_end(scores) != 0) return 1;
    classified = 1;
#endif
#elif TINYASC_EXAMPLE_FRONTEND
    n = read_clip(fp, pcm, TINYASC_EXAMPLE_SAMPLES);
    if (n == 0) n = noise_clip(pcm, TINYASC_EXAMPLE_SAMPLES);
    /* features straight into the model's input buffer: no copy; the clip's log-mel cached in the arena beside
     * the input where it fits (one pass over the frames instead of two with the input ResNorm) */
    {
        size_t spare;
        void *cache = tinyasc_model_spare(&spare);
        tinyasc_frontend_quantized_cached(pcm, n, fe_scratch, cache, spare, tinyasc_model_input_buffer());
    }
#else
    (void)n;
    /* no front end for this model: fill tinyasc_model_input_buffer() with its input yourself */
    for (i = 0; i < TINYASC_INPUT_SIZE; ++i) tinyasc_model_input_buffer()[i] = 0;
#endif
    if (fp != NULL) fclose(fp);
    if (!classified && tinyasc_model_invoke(tinyasc_model_input_buffer(), scores) != 0) return 1;
    for (i = 1; i < TINYASC_OUTPUT_SIZE; ++i)
        if (scores[i] > scores[best]) best = i;
    printf("label %d %s\n", best, tinyasc_labels[best]);
    for (i = 0; i < TINYASC_OUTPUT_SIZE; ++i) printf("score %s %d\n", tinyasc_labels[i], (int)scores[i]);
    return 0;
}
