/* Host stand-ins for the target's semihosting and stack measurement, so main_target.c
 * runs unchanged on the build machine (the reference for the target's outputs). */
#include <stdio.h>
#include <stdlib.h>
#include "semihost.h"

void sh_write0(const char *s) { fputs(s, stdout); }
void sh_write_u32(uint32_t v) { printf("%lu", (unsigned long)v); }
void sh_write_hex(const void *data, uint32_t n)
{
    const uint8_t *p = (const uint8_t *)data;
    for (uint32_t i = 0; i < n; i++) printf("%02x", p[i]);
}
void sh_exit(int code) { fflush(stdout); exit(code); }
uint32_t tinyasc_stack_used(void) { return 0u; }
