/*
 * Cortex-M main for the front end alone (QEMU, semihosting; built by
 * tinyasc.firmware_sim.frontend.run_frontend_target with the latency harness's startup code):
 * runs tinyasc_frontend_run() on the compiled-in clip between two profiling markers and prints
 * the checksum of the int8 model input it produced, in the harness's line format.
 */
#include <stdint.h>

#include "semihost.h"

void tinyasc_frontend_run(void);
uint32_t tinyasc_frontend_checksum(void);
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
    sh_write0("\nTINYASC STACK ");
    sh_write_u32(tinyasc_stack_used());
    sh_write0("\nTINYASC DONE\n");
    return 0;
}
