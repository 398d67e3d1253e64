/*
 * The report line of the element-wise and pooling self-checks: "TINYASC <tag> <case> <differing
 * bytes> <checksum of the reference output>", comparing an optimized kernel's output with the
 * portable kernel's (guard bytes written past it counted as differing: check_guard.h). Included by the self-test programs (one translation unit each).
 */
#ifndef TINYASC_CHECK_REPORT_H
#define TINYASC_CHECK_REPORT_H

#include <stdint.h>
#include "check_guard.h"
#include "semihost.h"

static void check_report(const char *tag, int i, const int8_t *ref, const int8_t *opt, int32_t n)
{
    int32_t bad = 0;
    uint32_t sum = 0;
    for (int32_t k = 0; k < n; k++) {
        bad += ref[k] != opt[k];
        sum = sum * 31u + (uint8_t)ref[k];
    }
    bad += check_guard_writes(opt, n);
    sh_write0("TINYASC ");
    sh_write0(tag);
    sh_write0(" ");
    sh_write_u32((uint32_t)i);
    sh_write0(" ");
    sh_write_u32((uint32_t)bad);
    sh_write0(" ");
    sh_write_u32(sum);
    sh_write0("\n");
}

#endif
