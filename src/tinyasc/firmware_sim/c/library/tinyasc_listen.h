/*
 * Continuous listening with this library's model: push the microphone's PCM as it arrives, ask
 * for the label of the last clip length of audio whenever you want one.
 *
 *   tinyasc_stream_push(pcm, n)       takes n int16 samples (any n, any number of calls); computes
 *                                     each feature frame once, as soon as its window has arrived;
 *                                     returns the frames held (TINYASC_FE_N_FRAMES: a whole window)
 *   tinyasc_stream_classify(scores)   the model on the last TINYASC_FE_N_FRAMES frames (normalized
 *                                     by their own statistics when the model's input ResNorm is
 *                                     lifted into the front end); writes the scores, returns the
 *                                     label, or -1 while less than a window of audio has arrived
 *   tinyasc_stream_reset()            forget the audio so far (a new stream)
 *
 * What is reused between calls: every feature frame (computed once, held as codes). The model
 * runs on the whole window at each classify: with a lifted input ResNorm every input value
 * depends on the window's statistics, so no earlier activation can be reused.
 *
 * RAM (static, in tinyasc_listen.c): the listening state (sizeof(tinyasc_frontend_listen): one
 * window of int16 PCM, the window's codes, per-band sums) and the front end's scratch
 * (TINYASC_FE_SCRATCH_FLOATS floats); the model input is written into the model's own buffer.
 * Not reentrant: push and classify share the state; call them from one task (or guard them).
 */
#ifndef TINYASC_LISTEN_H
#define TINYASC_LISTEN_H

#include <stdint.h>
#include "model.h"
#include "tinyasc_frontend.h"

#ifdef __cplusplus
extern "C" {
#endif

void tinyasc_stream_reset(void);
int tinyasc_stream_push(const int16_t *pcm, int n);
int tinyasc_stream_classify(tinyasc_output_t *scores);

#ifdef __cplusplus
}
#endif

#endif /* TINYASC_LISTEN_H */
