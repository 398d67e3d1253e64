/*
 * tinyasc audio front end: 16 kHz int16 PCM -> log-mel -> int8 model input.
 *
 * Computes, frame by frame and in single precision,
 *     logmel[b][t] = log( sum_k M[b][k] * |STFT(x)[k][t]|^2 + log_offset ),  x = pcm / 32768
 * with the same constants as the training features (tinyasc.data.features.logmel): periodic
 * Hann window of TINYASC_FE_WIN_LENGTH centred in a TINYASC_FE_N_FFT frame, hop
 * TINYASC_FE_HOP, centred STFT (TINYASC_FE_N_FFT/2 of padding at both ends), HTK mel
 * filterbank without area normalisation. The clip is zero-padded or cropped to
 * TINYASC_FE_CLIP_SAMPLES, so the output is always TINYASC_FE_N_MELS x TINYASC_FE_N_FRAMES.
 *
 * Constants and tables come from the generated frontend_tables.h/.c
 * (tinyasc.firmware_sim.frontend.write_frontend). Portable C99, float only (no double),
 * no heap, no libc beyond string.h: log is tinyasc_fe_logf, cos/sin come from tables.
 *
 * RAM: one scratch buffer of TINYASC_FE_SCRATCH_FLOATS floats (n_fft) plus the output.
 */
#ifndef TINYASC_FRONTEND_H
#define TINYASC_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

#include "frontend_tables.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Output index of (mel band b, frame t) in the model's input layout. */
#if TINYASC_FE_LAYOUT_MEL_MAJOR
#define TINYASC_FE_OUT_INDEX(b, t) ((b) * TINYASC_FE_N_FRAMES + (t))
#else
#define TINYASC_FE_OUT_INDEX(b, t) ((t) * TINYASC_FE_N_MELS + (b))
#endif

/* Natural logarithm for positive normal floats (inputs below FLT_MIN are treated as FLT_MIN).
 * Range reduction to m in [sqrt(1/2), sqrt(2)) and log(m) = 2 atanh((m-1)/(m+1)) to s^9. */
float tinyasc_fe_logf(float x);

/* One frame's log-mel (TINYASC_FE_N_MELS floats into logmel). logmel may be scratch itself (the
 * log-mel then fills its first n_mels floats) or a buffer outside it. */
void tinyasc_frontend_frame(const int16_t *pcm, int n_samples, int frame, float *scratch, float *logmel);

/* Whole clip: TINYASC_FE_N_MELS x TINYASC_FE_N_FRAMES float log-mel at TINYASC_FE_OUT_INDEX. */
void tinyasc_frontend_features(const int16_t *pcm, int n_samples, float *scratch, float *out_logmel);

/* Model input quantization, as TFLite's Quantize op: round half away from zero of the float32
 * quotient x / scale, plus the zero point, saturated to the input type's range
 * (tinyasc_fe_input_t: int8_t, or int16_t for a 16x8 model; frontend_tables.h). */
tinyasc_fe_input_t tinyasc_frontend_quantize(float x);

/* Whole clip straight to the int8 model input (no float spectrogram is held). With
 * TINYASC_FE_INPUT_RESNORM (a model exported with its input ResNorm lifted out of the graph) the
 * input is, per mel band b over the clip's frames t, in float,
 *     x'[b][t] = LAMBDA * x[b][t] + (x[b][t] - mean_t x[b]) / sqrt(var_t x[b] + EPS)
 * computed in two passes over the frames (statistics, then normalize and quantize): twice the
 * front end's compute, 3 x n_mels floats of static RAM, no float spectrogram held. */
void tinyasc_frontend_quantized(const int16_t *pcm, int n_samples, float *scratch, tinyasc_fe_input_t *out);

/* The same bytes as tinyasc_frontend_quantized in half its compute where RAM allows: with the input ResNorm and a
 * cache of at least TINYASC_FE_CACHE_FLOATS floats (cache_bytes; 4-byte aligned, not overlapping out or scratch) the
 * clip's float log-mel is computed once into it with the statistics, then normalized and quantized from there (one
 * pass over the frames instead of two); otherwise, and without the input ResNorm, it is tinyasc_frontend_quantized.
 * Any free RAM will do, e.g. the model's arena beside its input between inferences (tinyasc_model_spare()). */
#define TINYASC_FE_CACHE_FLOATS (TINYASC_FE_N_MELS * TINYASC_FE_N_FRAMES)
void tinyasc_frontend_quantized_cached(const int16_t *pcm, int n_samples, float *scratch, void *cache,
                                       size_t cache_bytes, tinyasc_fe_input_t *out);

#if TINYASC_FE_INPUT_RESNORM
/* The first pass alone: per-band mean and sqrt(var + EPS) of the clip's log-mel (n_mels each). */
void tinyasc_frontend_resnorm_stats(const int16_t *pcm, int n_samples, float *scratch, float *mean, float *std);
#endif

/* Nats per log-mel code held by the streaming and listening APIs with the input ResNorm. */
#ifndef TINYASC_FE_LOGMEL_STEP
#define TINYASC_FE_LOGMEL_STEP 0.125f /* int8 codes span [-16, 15.875] nats: log(1e-6) = -13.8 to full scale */
#endif

#if !TINYASC_FE_PAD_REFLECT
/* Streaming: feed the clip in chunks as the microphone delivers them (any sizes); each frame is
 * computed as soon as its window is complete. RAM: this state (a window of int16 history, plus
 * 3 x n_mels floats of statistics with the input ResNorm) + the scratch + the output, instead of
 * the whole clip's PCM (320 KB for 10 s). Constant (zero) STFT padding only.
 *
 * Without TINYASC_FE_INPUT_RESNORM each frame is written, quantized, into the model input, and the
 * output is bit-identical to tinyasc_frontend_quantized on the same samples.
 *
 * With TINYASC_FE_INPUT_RESNORM the normalization needs the whole clip's per-band statistics, so
 * until the clip ends `out` holds each frame's log-mel as a code of TINYASC_FE_LOGMEL_STEP nats
 * (round half away from zero, saturated to the input type) while the statistics accumulate from
 * the exact float log-mel; tinyasc_frontend_stream_finish then normalizes in place. The one
 * difference from tinyasc_frontend_quantized: the log-mel is rounded to the step before it is
 * normalized (at most TINYASC_FE_LOGMEL_STEP / 2 nats; the statistics are exact). */

typedef struct {
    int16_t ring[TINYASC_FE_WIN_LENGTH]; /* the last WIN_LENGTH samples, at index i % WIN_LENGTH */
    int32_t received;                    /* samples taken so far (at most CLIP_SAMPLES) */
    int32_t next_frame;                  /* first frame not yet written */
#if TINYASC_FE_INPUT_RESNORM
    float rn_shift[TINYASC_FE_N_MELS];   /* per band: the first frame's log-mel */
    float rn_sum[TINYASC_FE_N_MELS];     /* sum of (log-mel - shift) over the frames so far */
    float rn_sq[TINYASC_FE_N_MELS];      /* sum of its squares */
#endif
} tinyasc_frontend_stream;

void tinyasc_frontend_stream_init(tinyasc_frontend_stream *st);
/* Returns the number of frames written so far (TINYASC_FE_N_FRAMES when the clip is complete);
 * samples beyond TINYASC_FE_CLIP_SAMPLES are ignored (the clip is cropped). */
int tinyasc_frontend_stream_push(tinyasc_frontend_stream *st, const int16_t *pcm, int n, float *scratch,
                                 tinyasc_fe_input_t *out);
/* End of a short clip: the missing samples are zeros (the clip is zero-padded), every remaining
 * frame is written. Returns TINYASC_FE_N_FRAMES. */
int tinyasc_frontend_stream_finish(tinyasc_frontend_stream *st, float *scratch, tinyasc_fe_input_t *out);
#endif /* !TINYASC_FE_PAD_REFLECT */

/* Continuous listening: a never-ending stream (any chunk sizes) and, whenever asked, the model
 * input of the last TINYASC_FE_N_FRAMES frames (one clip length). Frame j of the stream is
 * computed from samples [j * HOP, j * HOP + WIN_LENGTH) as soon as they have arrived (no STFT
 * padding: the stream has no edges) and kept as codes of the input type; each frame is computed once, however
 * often the window is read.
 *
 * Without TINYASC_FE_INPUT_RESNORM a code is the frame's quantized model input. With it, a code is
 * the log-mel in steps of TINYASC_FE_LOGMEL_STEP nats (as the clip stream holds it), and the
 * window is normalized by its own per-band statistics, taken from exact integer sums of the codes
 * that the push keeps up to date (a frame's codes are added when it arrives and subtracted when it
 * leaves the window): mean = STEP * S1 / N, var = STEP^2 * (N * S2 - S1^2) / N^2 in float, then
 * x' = (x - mean) / sqrt(var + EPS) + LAMBDA * x on x = STEP * code, quantized.
 *
 * RAM: this state (one window of int16 PCM, N_FRAMES x N_MELS codes, 2 x N_MELS int32 sums with
 * the input ResNorm) + the scratch (TINYASC_FE_SCRATCH_FLOATS floats) + the model input. */
typedef struct {
    int16_t ring[TINYASC_FE_WIN_LENGTH];  /* the last WIN_LENGTH samples; `pos` is the oldest */
    int32_t pos;                          /* next ring slot written (= the oldest sample's) */
    int32_t need;                         /* samples still missing before the next frame */
    int32_t slot;                         /* next frame slot written (= the oldest frame's once full) */
    int32_t held;                         /* frames held, at most TINYASC_FE_N_FRAMES */
    uint32_t frames;                      /* frames computed since init (wraps after 2^32) */
    tinyasc_fe_input_t codes[TINYASC_FE_N_FRAMES][TINYASC_FE_N_MELS]; /* frame slot -> band */
#if TINYASC_FE_INPUT_RESNORM
    int32_t sum[TINYASC_FE_N_MELS];       /* per band: sum of the held frames' codes */
    int32_t sum_sq[TINYASC_FE_N_MELS];    /* and of their squares */
#endif
} tinyasc_frontend_listen;

void tinyasc_frontend_listen_init(tinyasc_frontend_listen *st);
/* Takes n samples; computes every frame they complete. Returns the frames held (at most
 * TINYASC_FE_N_FRAMES: a whole window once that many have arrived). */
int tinyasc_frontend_listen_push(tinyasc_frontend_listen *st, const int16_t *pcm, int n, float *scratch);
/* The model input of the last TINYASC_FE_N_FRAMES frames, oldest first, into out (the model's
 * input layout). scratch: TINYASC_FE_SCRATCH_FLOATS floats (the statistics with the input
 * ResNorm). Returns 0, or -1 (out untouched) while fewer frames than a window are held. */
int tinyasc_frontend_listen_window(const tinyasc_frontend_listen *st, float *scratch, tinyasc_fe_input_t *out);

#ifdef __cplusplus
}
#endif

#endif /* TINYASC_FRONTEND_H */
