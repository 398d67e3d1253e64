/*
 * Target main: runs the generated model on the golden inputs, prints the outputs and the
 * stack high-water mark through semihosting. tinyasc_layer_marker is the function the
 * instruction-counting plugin keys on (its entry address): every call snapshots the
 * counters, and the harness maps the snapshot sequence onto
 *   [front end: (-2,0) (-2,1)] then per input: (-1,0) {(i,0) (i,1) for each layer} (-1,1).
 * With -DTINYASC_COUNTER_ADDR=... the plugin-free fallback reads a free-running board
 * counter (MPS2 FPGAIO COUNTER) around each inference instead (use with -icount shift=0).
 */
#include <stdint.h>
#include "model.h"
#include "golden_input.h"
#include "semihost.h"

uint32_t tinyasc_stack_used(void);

__attribute__((noinline, noipa, used)) void tinyasc_layer_marker(int layer, int is_end)
{
    __asm__ volatile("" : : "r"(layer), "r"(is_end) : "memory");
}

static tinyasc_output_t tinyasc_output[TINYASC_OUTPUT_SIZE];

#ifdef TINYASC_FRONTEND
void tinyasc_frontend_run(void);
uint32_t tinyasc_frontend_checksum(void);
const void *tinyasc_frontend_output_bytes(uint32_t *n_bytes);
#endif

int main(void)
{
#ifdef TINYASC_FRONTEND
    tinyasc_layer_marker(-2, 0);
    tinyasc_frontend_run();
    tinyasc_layer_marker(-2, 1);
    sh_write0("TINYASC FE ");
    sh_write_u32(tinyasc_frontend_checksum());
    sh_write0("\n");
#if TINYASC_FE_PRINT_OUTPUT
    { /* the model input itself, for a comparison within a tolerance (CMSIS-DSP's FFT) */
        uint32_t n;
        const void *fe_out = tinyasc_frontend_output_bytes(&n);
        sh_write0("TINYASC FEOUT ");
        sh_write_hex(fe_out, n);
        sh_write0("\n");
    }
#endif
#endif
    for (uint32_t i = 0; i < TINYASC_GOLDEN_COUNT; i++) {
#ifdef TINYASC_COUNTER_ADDR
        uint32_t t0 = *(volatile uint32_t *)(TINYASC_COUNTER_ADDR);
#endif
        tinyasc_layer_marker(-1, 0);
        int rc = tinyasc_model_invoke(tinyasc_golden_input[i], tinyasc_output);
        tinyasc_layer_marker(-1, 1);
#ifdef TINYASC_COUNTER_ADDR
        uint32_t t1 = *(volatile uint32_t *)(TINYASC_COUNTER_ADDR);
        sh_write0("TINYASC COUNTER ");
        sh_write_u32(t1 - t0);
        sh_write0("\n");
#endif
        if (rc != 0) {
            sh_write0("TINYASC INVOKE-FAILED\n");
            return 4;
        }
        sh_write0("TINYASC OUT ");
        sh_write_u32(i);
        sh_write0(" ");
        sh_write_hex(tinyasc_output, sizeof(tinyasc_output));
        sh_write0("\n");
    }
    sh_write0("TINYASC STACK ");
    sh_write_u32(tinyasc_stack_used());
    sh_write0("\nTINYASC DONE\n");
    return 0;
}
