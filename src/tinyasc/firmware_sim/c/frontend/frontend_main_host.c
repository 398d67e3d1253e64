/*
 * Host driver for the tinyasc front end (not firmware: uses stdio, malloc and clock).
 *
 *   frontend_host run   IN.pcm OUT_FEATURES.f32 OUT_INPUT.i8   int16 LE PCM -> float log-mel + model input
 *   frontend_host logf  IN.f32 OUT.f32                         tinyasc_fe_logf on each float
 *   frontend_host bench IN.pcm REPEATS                         prints seconds per clip (int8 path)
 *   frontend_host stream IN.pcm OUT_INPUT.i8 CHUNK             the streaming API, fed CHUNK samples at a
 *                                                              time (CHUNK <= 0: pseudo-random sizes
 *                                                              0..2000, seed -CHUNK)
 *   frontend_host listen IN.pcm OUT_CODES OUT_INPUT.i8 CHUNK   continuous listening fed as above: the
 *                                                              held frames' codes oldest first (frame x
 *                                                              band), and the window's model input
 *                                                              (empty while no whole window is held)
 *
 * Output arrays are in the model's input layout (TINYASC_FE_OUT_INDEX), native float32 and
 * tinyasc_fe_input_t (int8, or int16 for a 16x8 model).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tinyasc_frontend.h"

static float scratch[TINYASC_FE_SCRATCH_FLOATS];

static void *read_file(const char *path, long *n_bytes)
{
    FILE *f = fopen(path, "rb");
    void *data;
    long n;
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)(n > 0 ? n : 1));
    if (!data || (n > 0 && fread(data, 1, (size_t)n, f) != (size_t)n)) {
        fprintf(stderr, "%s: cannot read\n", path);
        exit(2);
    }
    fclose(f);
    *n_bytes = n;
    return data;
}

static void write_file(const char *path, const void *data, size_t n_bytes)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n_bytes, f) != n_bytes || fclose(f) != 0) {
        fprintf(stderr, "%s: cannot write\n", path);
        exit(2);
    }
}

/* The next chunk's size: CHUNK samples, or (CHUNK <= 0) pseudo-random 0..2000 from *lcg; at most left. */
static long next_chunk(long chunk, uint32_t *lcg, long left)
{
    long k = chunk;
    if (chunk <= 0) {
        *lcg = *lcg * 1664525u + 1013904223u;
        k = (long)((*lcg >> 8) % 2001u);
    }
    return k > left ? left : k;
}

int main(int argc, char **argv)
{
    const size_t n_out = (size_t)TINYASC_FE_N_MELS * (size_t)TINYASC_FE_N_FRAMES;
    long n_bytes = 0;

    if (argc == 5 && strcmp(argv[1], "run") == 0) {
        int16_t *pcm = (int16_t *)read_file(argv[2], &n_bytes);
        float *feat = (float *)malloc(n_out * sizeof(float));
        tinyasc_fe_input_t *q = (tinyasc_fe_input_t *)malloc(n_out * sizeof(tinyasc_fe_input_t));
        if (!feat || !q) {
            return 3;
        }
        tinyasc_frontend_features(pcm, (int)(n_bytes / 2), scratch, feat);
        tinyasc_frontend_quantized(pcm, (int)(n_bytes / 2), scratch, q);
        write_file(argv[3], feat, n_out * sizeof(float));
        write_file(argv[4], q, n_out * sizeof(tinyasc_fe_input_t));
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "logf") == 0) {
        float *x = (float *)read_file(argv[2], &n_bytes);
        long i, n = n_bytes / (long)sizeof(float);
        for (i = 0; i < n; ++i) {
            x[i] = tinyasc_fe_logf(x[i]);
        }
        write_file(argv[3], x, (size_t)n * sizeof(float));
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "quantize") == 0) {
        float *x = (float *)read_file(argv[2], &n_bytes);
        long i, n = n_bytes / (long)sizeof(float);
        tinyasc_fe_input_t *q = (tinyasc_fe_input_t *)malloc((size_t)(n > 0 ? n : 1) * sizeof(tinyasc_fe_input_t));
        if (!q) {
            return 1;
        }
        for (i = 0; i < n; ++i) {
            q[i] = tinyasc_frontend_quantize(x[i]);
        }
        write_file(argv[3], q, (size_t)n * sizeof(tinyasc_fe_input_t));
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "bench") == 0) {
        int16_t *pcm = (int16_t *)read_file(argv[2], &n_bytes);
        tinyasc_fe_input_t *q = (tinyasc_fe_input_t *)malloc(n_out * sizeof(tinyasc_fe_input_t));
        int r, repeats = atoi(argv[3]);
        unsigned checksum = 0;
        size_t i;
        clock_t t0;
        if (!q || repeats < 1) {
            return 3;
        }
        t0 = clock();
        for (r = 0; r < repeats; ++r) {
            tinyasc_frontend_quantized(pcm, (int)(n_bytes / 2), scratch, q);
            for (i = 0; i < n_out * sizeof(tinyasc_fe_input_t); ++i) {
                checksum += (unsigned)((const uint8_t *)q)[i];
            }
        }
        printf("seconds_per_clip %.9g\nframes %d\nchecksum %u\n",
               (double)(clock() - t0) / CLOCKS_PER_SEC / repeats, TINYASC_FE_N_FRAMES, checksum);
        return 0;
    }
#if !TINYASC_FE_PAD_REFLECT
    if (argc == 5 && strcmp(argv[1], "stream") == 0) {
        static tinyasc_frontend_stream st;
        int16_t *pcm = (int16_t *)read_file(argv[2], &n_bytes);
        tinyasc_fe_input_t *q = (tinyasc_fe_input_t *)malloc(n_out * sizeof(tinyasc_fe_input_t));
        long chunk = atol(argv[4]), pos = 0, n = n_bytes / 2;
        uint32_t lcg = (uint32_t)(-chunk) * 2654435761u + 1u;
        if (!q) {
            return 3;
        }
        memset(q, 0x55, n_out * sizeof(tinyasc_fe_input_t)); /* a frame never written would show */
        tinyasc_frontend_stream_init(&st);
        while (pos < n) {
            const long k = next_chunk(chunk, &lcg, n - pos);
            tinyasc_frontend_stream_push(&st, pcm + pos, (int)k, scratch, q);
            pos += k;
        }
        if (tinyasc_frontend_stream_finish(&st, scratch, q) != TINYASC_FE_N_FRAMES) {
            return 4;
        }
        write_file(argv[3], q, n_out * sizeof(tinyasc_fe_input_t));
        return 0;
    }
#endif
    if (argc == 6 && strcmp(argv[1], "listen") == 0) {
        static tinyasc_frontend_listen ls;
        int16_t *pcm = (int16_t *)read_file(argv[2], &n_bytes);
        tinyasc_fe_input_t *q = (tinyasc_fe_input_t *)malloc(n_out * sizeof(tinyasc_fe_input_t));
        long chunk = atol(argv[5]), pos = 0, n = n_bytes / 2;
        uint32_t lcg = (uint32_t)(-chunk) * 2654435761u + 1u;
        int t, s, held = 0;
        FILE *f;
        if (!q) {
            return 3;
        }
        tinyasc_frontend_listen_init(&ls);
        while (pos < n) {
            const long k = next_chunk(chunk, &lcg, n - pos);
            held = tinyasc_frontend_listen_push(&ls, pcm + pos, (int)k, scratch);
            pos += k;
        }
        f = fopen(argv[3], "wb");
        s = held == TINYASC_FE_N_FRAMES ? ls.slot : 0; /* the oldest held frame */
        for (t = 0; f != NULL && t < held; ++t, s = (s + 1) % TINYASC_FE_N_FRAMES) {
            fwrite(ls.codes[s], sizeof(tinyasc_fe_input_t), TINYASC_FE_N_MELS, f);
        }
        if (f == NULL || fclose(f) != 0) {
            fprintf(stderr, "%s: cannot write\n", argv[3]);
            return 2;
        }
        if (tinyasc_frontend_listen_window(&ls, scratch, q) == 0) {
            write_file(argv[4], q, n_out * sizeof(tinyasc_fe_input_t));
        } else {
            write_file(argv[4], q, 0);
        }
        printf("frames %lu\nheld %d\n", (unsigned long)ls.frames, held);
        return 0;
    }
    fprintf(stderr, "usage: %s run IN.pcm OUT.f32 OUT.i8 | logf IN.f32 OUT.f32 | bench IN.pcm REPEATS"
                    " | stream IN.pcm OUT.i8 CHUNK | listen IN.pcm OUT_CODES OUT.i8 CHUNK\n", argv[0]);
    return 2;
}
