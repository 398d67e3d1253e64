/* Continuous listening: the front end's listening state and the model (see tinyasc_listen.h). */
#include "tinyasc_listen.h"

static tinyasc_frontend_listen listen_state;
static float listen_scratch[TINYASC_FE_SCRATCH_FLOATS];
static int listen_started;

void tinyasc_stream_reset(void)
{
    tinyasc_frontend_listen_init(&listen_state);
    listen_started = 1;
}

int tinyasc_stream_push(const int16_t *pcm, int n)
{
    if (!listen_started) {
        tinyasc_stream_reset();
    }
    return tinyasc_frontend_listen_push(&listen_state, pcm, n, listen_scratch);
}

int tinyasc_stream_classify(tinyasc_output_t *scores)
{
    int i, best = 0;
    if (!listen_started || tinyasc_frontend_listen_window(&listen_state, listen_scratch,
                                                          tinyasc_model_input_buffer()) != 0) {
        return -1;
    }
    if (tinyasc_model_invoke(tinyasc_model_input_buffer(), scores) != 0) {
        return -1;
    }
    for (i = 1; i < TINYASC_OUTPUT_SIZE; ++i) {
        if (scores[i] > scores[best]) {
            best = i;
        }
    }
    return best;
}
