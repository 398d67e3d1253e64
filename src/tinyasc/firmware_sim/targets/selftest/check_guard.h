/*
 * Bytes after each optimized output that no kernel may write: the self-checks give their output buffers CHECK_GUARD
 * bytes more and fill them with CHECK_FILL before each optimized call; a changed one counts as a differing byte (a
 * write past the output tensor lands on the next tensor of an arena). Included by the self-test programs.
 */
#ifndef TINYASC_CHECK_GUARD_H
#define TINYASC_CHECK_GUARD_H

#include <stdint.h>

#define CHECK_GUARD 64
#define CHECK_FILL 0x33

/* The guard bytes after opt[end] a kernel wrote. */
static inline int32_t check_guard_writes(const int8_t *opt, int32_t end)
{
    int32_t m = 0;
    for (int32_t k = end; k < end + CHECK_GUARD; k++) m += opt[k] != (int8_t)CHECK_FILL;
    return m;
}

#endif
