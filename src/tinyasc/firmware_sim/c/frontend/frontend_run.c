/*
 * Firmware entry of the front end on a compiled-in clip (frontend_golden_pcm.c), for the
 * Cortex-M harness: main_target.c calls tinyasc_frontend_run() between its profiling markers.
 * The model input (int8, or int16 for a 16x8 model) lands in tinyasc_frontend_output (static RAM);
 * the scratch is the front end's only other RAM (n_fft floats; built with a model whose input ResNorm the front
 * end computes, the clip cache in the model's arena too, as the library's glue does). tinyasc_frontend_checksum()
 * hashes that output so a target can prove it computed the host's bytes (TINYASC_FE_FLOAT_OUTPUT=1: the float log-mel
 * instead).
 */
#include <stddef.h>
#include "tinyasc_frontend.h"
#include "frontend_golden_pcm.h"

static float tinyasc_fe_scratch[TINYASC_FE_SCRATCH_FLOATS];
tinyasc_fe_input_t tinyasc_frontend_output[TINYASC_FE_N_MELS * TINYASC_FE_N_FRAMES];
#if TINYASC_FE_FLOAT_OUTPUT
/* built with TINYASC_FE_FLOAT_OUTPUT=1 (tests): the float log-mel of tinyasc_frontend_features instead, so that a
 * target proves it computed the host's floats bit for bit, not only their int8 codes */
static float tinyasc_frontend_logmel[TINYASC_FE_N_MELS * TINYASC_FE_N_FRAMES];
#define FE_RUN_OUTPUT tinyasc_frontend_logmel
#else
#define FE_RUN_OUTPUT tinyasc_frontend_output
#endif
#if TINYASC_FE_INPUT_RESNORM && defined(TINYASC_FRONTEND)
/* built with the model (the latency harness): the clip cache in the model's arena beside its input, as the
 * library's glue takes it (tinyasc_model_spare), where it fits */
#include "model.h"
#endif

void tinyasc_frontend_run(void);
uint32_t tinyasc_frontend_checksum(void);
const void *tinyasc_frontend_output_bytes(uint32_t *n_bytes);

void tinyasc_frontend_run(void)
{
#if TINYASC_FE_FLOAT_OUTPUT
    tinyasc_frontend_features(tinyasc_fe_golden_pcm, TINYASC_FE_GOLDEN_SAMPLES, tinyasc_fe_scratch,
                              tinyasc_frontend_logmel);
#elif TINYASC_FE_INPUT_RESNORM && defined(TINYASC_FRONTEND)
    size_t spare;
    void *cache = tinyasc_model_spare(&spare);
    tinyasc_frontend_quantized_cached(tinyasc_fe_golden_pcm, TINYASC_FE_GOLDEN_SAMPLES, tinyasc_fe_scratch, cache,
                                      spare, tinyasc_frontend_output);
#else
    tinyasc_frontend_quantized(tinyasc_fe_golden_pcm, TINYASC_FE_GOLDEN_SAMPLES, tinyasc_fe_scratch,
                               tinyasc_frontend_output);
#endif
}

/* FNV-1a over the output bytes in memory order: a target prints it, the host compares it with
 * tinyasc.firmware_sim.frontend.output_checksum (bit-identity of target and host front end). */
uint32_t tinyasc_frontend_checksum(void)
{
    uint32_t h = 2166136261u;
    const uint8_t *bytes = (const uint8_t *)FE_RUN_OUTPUT;
    size_t i;
    for (i = 0; i < sizeof(FE_RUN_OUTPUT); ++i) {
        h ^= (uint32_t)bytes[i];
        h *= 16777619u;
    }
    return h;
}

/* The model input's bytes (for a target to print them whole). */
const void *tinyasc_frontend_output_bytes(uint32_t *n_bytes)
{
    *n_bytes = (uint32_t)sizeof(FE_RUN_OUTPUT);
    return FE_RUN_OUTPUT;
}
