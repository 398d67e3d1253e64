/*
 * Cortex-M main for the front end alone (QEMU, semihosting; built by
 * tinyasc.firmware_sim.frontend.run_frontend_target with the latency harness's startup code):
 * runs tinyasc_frontend_run() on the compiled-in clip between two profiling markers and prints
 * the checksum of the int8 model input it produced, in the harness's line format; built with
 * TINYASC_FE_PRINT_OUTPUT=1 it also prints that input itself (output 1), for comparisons that are
 * not bit for bit (e.g. CMSIS-DSP's FFT against the built-in one).
 */
#include <stdint.h>

#include "semihost.h"

void tinyasc_frontend_run(void);
uint32_t tinyasc_frontend_checksum(void);
const void *tinyasc_frontend_output_bytes(uint32_t *n_bytes);
uint32_t tinyasc_stack_used(void);
void tinyasc_layer_marker(int layer, int is_end);

__attribute__((noinline, noipa, used)) void tinyasc_layer_marker(int layer, int is_end)
{
    __asm__ volatile("" : : "r"(layer), "r"(is_end) : "memory");
}

int main(void)
{
    uint32_t h;
    tinyasc_layer_marker(-2, 0);
    tinyasc_frontend_run();
    tinyasc_layer_marker(-2, 1);
    h = tinyasc_frontend_checksum();
    sh_write0("TINYASC OUT 0 ");
    sh_write_hex(&h, 4);
#if TINYASC_FE_PRINT_OUTPUT
    {
        uint32_t n;
        const void *out = tinyasc_frontend_output_bytes(&n);
        sh_write0("\nTINYASC OUT 1 ");
        sh_write_hex(out, n);
    }
#endif
    sh_write0("\nTINYASC STACK ");
    sh_write_u32(tinyasc_stack_used());
    sh_write0("\nTINYASC DONE\n");
    return 0;
}
