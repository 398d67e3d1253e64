/* Semihosting calls through BKPT 0xAB (Arm semihosting v2, the M-profile trap). */
#include "semihost.h"

#define SYS_WRITE0 0x04
#define SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

static int sh_call(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void sh_write0(const char *s) { sh_call(SYS_WRITE0, s); }

void sh_write_u32(uint32_t v)
{
    char buf[12];
    int i = 11;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u && i > 0);
    sh_write0(&buf[i]);
}

void sh_write_hex(const void *data, uint32_t n)
{
    static const char digits[] = "0123456789abcdef";
    char buf[129];
    const uint8_t *p = (const uint8_t *)data;
    while (n > 0u) {
        uint32_t k = n > 64u ? 64u : n;
        for (uint32_t i = 0; i < k; i++) {
            buf[2u * i] = digits[p[i] >> 4];
            buf[2u * i + 1u] = digits[p[i] & 15u];
        }
        buf[2u * k] = '\0';
        sh_write0(buf);
        p += k;
        n -= k;
    }
}

void sh_exit(int code)
{
    static uint32_t block[2];
    block[0] = ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint32_t)code;
    sh_call(SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}
